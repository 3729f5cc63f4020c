"""Slow reference pieces shared by the KDE and bandwidth-search tests."""

from __future__ import annotations

import numpy as np


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
