"""Slow reference pieces shared by the kernel-sum, KDE and bandwidth-search tests."""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import integrate, special


def log_profile(kernel: str, r: np.ndarray) -> np.ndarray:
    """Log of the kernel profile, computed in log space so nothing underflows."""
    if kernel == "gaussian":
        return -0.5 * r * r
    if kernel == "exponential":
        return -r
    inside = r < 1
    safe = np.where(inside, r, 0.0)
    with np.errstate(divide="ignore"):
        values = {
            "tophat": np.zeros_like(r),
            "epanechnikov": np.log1p(-(safe * safe)),
            "linear": np.log1p(-safe),
            "cosine": np.log(np.cos(0.5 * np.pi * safe)),
        }[kernel]
    return np.where(inside, values, -np.inf)


PROFILES = {
    "gaussian": lambda r: np.exp(-0.5 * r * r),
    "tophat": lambda r: np.where(r < 1, 1.0, 0.0),
    "epanechnikov": lambda r: np.clip(1 - r * r, 0, None),
    "exponential": lambda r: np.exp(-r),
    "linear": lambda r: np.clip(1 - r, 0, None),
    "cosine": lambda r: np.where(r < 1, np.cos(0.5 * np.pi * np.minimum(r, 1)), 0.0),
}


def radial_moment(kernel: str, n_features: int, power: float) -> float:
    """int_0^R r**(d-1+power) k(r) dr by quadrature (R = 1 or infinity)."""
    upper = np.inf if kernel in ("gaussian", "exponential") else 1.0
    profile = PROFILES[kernel]
    # Split where the integrand peaks: quad can miss a narrow peak at large d.
    if kernel == "gaussian":
        peak = math.sqrt(max(n_features - 1 + power, 0.0))
    elif kernel == "exponential":
        peak = n_features - 1 + power
    else:
        peak = 0.5
    pieces = [(0.0, peak), (peak, upper)]
    return sum(
        integrate.quad(
            lambda r: r ** (n_features - 1 + power) * float(profile(r)), a, b, limit=200
        )[0]
        for a, b in pieces
    )


@functools.cache
def reference_log_normalisation(kernel: str, n_features: int) -> float:
    log_sphere = (
        math.log(2)
        + 0.5 * n_features * math.log(math.pi)
        - special.gammaln(n_features / 2)
    )
    return -(log_sphere + math.log(radial_moment(kernel, n_features, 0.0)))
