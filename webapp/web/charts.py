"""The model version charts, built from the metrics the generator recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString

from webapp.web.plots import (
    Chart,
    Marker,
    Series,
    render_bars,
    render_chart,
    to_float,
)


@dataclass(frozen=True)
class Labelled:
    """A model version's metrics with the name its series get."""

    label: str
    metrics: Mapping[str, Any]


def _cv(metrics: Mapping[str, Any]) -> Mapping[str, Any] | None:
    cv = metrics.get("cv")
    if isinstance(cv, Mapping) and cv.get("bandwidths"):
        return cv
    return None


def has_cv_curve(metrics: Mapping[str, Any]) -> bool:
    return _cv(metrics) is not None


def cv_gaps(metrics: Mapping[str, Any]) -> int:
    """How many grid bandwidths scored -inf (stored as null): gaps in the line."""
    cv = _cv(metrics)
    if cv is None:
        return 0
    return sum(1 for v in cv.get("mean_log_likelihood") or [] if to_float(v) is None)


def variance_chart(models: Sequence[Labelled], *, key: str = "variance") -> SafeString:
    """Cumulative explained variance against the number of components."""
    series = []
    for index, model in enumerate(models):
        curve = list(model.metrics.get("explained_variance_curve") or [])
        series.append(
            Series(
                model.label,
                list(range(1, len(curve) + 1)),
                curve,
                colour=index,
                points=len(curve) <= 30,
            )
        )
    single = len(models) == 1
    total = to_float(models[0].metrics.get("explained_variance")) if single else None
    description = "Cumulative fraction of the pixel variance kept by the first k "
    description += "principal components."
    if total is not None:
        description += f" The model keeps {total:.1%}."
    return render_chart(
        Chart(
            title="Explained variance against components",
            x_label="Principal components kept",
            y_label="Variance explained",
            series=series,
            y_min=0.0,
            y_max=1.0,
            description=description,
            key=key,
        )
    )


def cv_chart(models: Sequence[Labelled], *, key: str = "cv") -> SafeString:
    """Mean held-out log-likelihood against bandwidth, chosen bandwidths marked."""
    series: list[Series] = []
    markers: list[Marker] = []
    single = len(models) == 1
    for index, model in enumerate(models):
        cv = _cv(model.metrics)
        if cv is None:
            continue
        bandwidths = list(cv.get("bandwidths") or [])
        if single:
            for fold, row in enumerate(cv.get("fold_log_likelihood") or []):
                series.append(
                    Series(f"fold {fold + 1}", bandwidths, list(row), index, faint=True)
                )
        series.append(
            Series(
                "mean over folds" if single else model.label,
                bandwidths,
                list(cv.get("mean_log_likelihood") or []),
                colour=index,
                points=True,
            )
        )
        chosen = to_float(model.metrics.get("bandwidth"))
        if chosen is not None:
            label = f"chosen bandwidth {chosen:.4g}"
            if not single:
                label = f"{model.label}: {label}"
            markers.append(Marker(chosen, label, colour=index))
    description = (
        "Mean held-out log-likelihood per sample for each bandwidth of the grid "
        "(logarithmic axis); the dashed line marks the bandwidth chosen."
    )
    return render_chart(
        Chart(
            title="Cross-validated log-likelihood against bandwidth",
            x_label="Bandwidth (log scale)",
            y_label="Held-out log-likelihood",
            series=series,
            markers=markers,
            log_x=True,
            description=description,
            key=key,
        )
    )


def cv_table(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of bandwidth and mean log-likelihood, for the chart's data table."""
    cv = _cv(metrics)
    if cv is None:
        return []
    chosen = to_float(metrics.get("bandwidth"))
    rows = []
    for bandwidth, mean in zip(
        cv.get("bandwidths") or [], cv.get("mean_log_likelihood") or [], strict=False
    ):
        value = to_float(bandwidth)
        rows.append(
            {
                "bandwidth": value,
                "mean": to_float(mean),
                "chosen": value is not None
                and chosen is not None
                and abs(value - chosen) <= 1e-12 * max(1.0, abs(chosen)),
            }
        )
    return rows


def histogram_chart(
    classes: Sequence[object],
    counts: Sequence[object],
    *,
    requested: object = None,
    key: str = "histogram",
) -> SafeString:
    """Predicted-class counts of a gallery; the requested digit is accented."""
    return render_bars(
        list(classes),
        list(counts),
        title="Digit the classifier sees in each image",
        x_label="Predicted digit",
        y_label="Images",
        highlight=requested,
        key=key,
    )
