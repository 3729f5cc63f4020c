"""Small presentation helpers for the web templates."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django import forms, template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from webapp.gallery.models import describe_walk_end
from webapp.web.plots import to_float

register = template.Library()


@register.simple_tag
def field_widget(field: forms.BoundField) -> SafeString:
    """The widget, its ``aria-describedby``/``aria-invalid`` tied to help and errors."""
    described_by = []
    if field.help_text:
        described_by.append(f"{field.auto_id}_help")
    if field.errors:
        described_by.append(f"{field.auto_id}_errors")
    attrs: dict[str, Any] = {}
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


_TILE = (
    '<li><a href="{}" download="image-{}.png" aria-label="Download image {}{}, '
    'seed {}"><img class="digit-img" src="{}" alt=""></a>'
    '<span class="tile-caption" aria-hidden="true">{}</span>{}</li>'
)


@register.simple_tag
def gallery_tiles(images: list[tuple[Any, str, str]], shared: bool) -> SafeString:
    """A gallery's images as list items: each a download link holding the image
    (``images`` as ``gallery_context`` gives them), its number, and its id
    unless ``shared``. Built here rather than by template loops: as loops, these
    tiles and the walk form's options (`image_options`) took two fifths of a
    256-image gallery page's CPU time (62 ms, 37 ms without)."""
    return format_html_join(
        "\n",
        _TILE,
        (
            (
                download_url,
                f"{image.index:03d}",
                image.index + 1,
                "" if image.digit is None else f" (digit {image.digit})",
                image.seed,
                src,
                image.index + 1,
                ""
                if shared
                else format_html(
                    '<span class="tile-id" title="Image id, for walks">#{}</span>',
                    image.pk,
                ),
            )
            for image, download_url, src in images
        ),
    )


@register.simple_tag
def image_options(images: list[tuple[Any, str, str]], selected: str) -> SafeString:
    """A gallery's images as the ``<option>``s of a walk's end, the ``selected``
    one "first" or "last"; built here for the reason `gallery_tiles` is."""
    chosen = 0 if selected == "first" else len(images) - 1
    return format_html_join(
        "",
        '<option value="{}"{}>{} (#{})</option>',
        (
            (
                image.pk,
                " selected" if position == chosen else "",
                image.index + 1,
                image.pk,
            )
            for position, (image, _, _) in enumerate(images)
        ),
    )


@register.simple_tag
def state_badge(state: object, label: object = None) -> SafeString:
    """A coloured pill for a job state (queued/running/succeeded/failed/cancelled)."""
    text = str(label if label is not None else state or "unknown")
    return format_html(
        '<span class="badge state-{}" data-state-badge>{}</span>', state, text
    )


@register.filter
def duration(value: object) -> str:
    """Seconds (or a timedelta) as ``1 h 02 m``, ``3 m 05 s`` or ``4.2 s``."""
    if isinstance(value, dt.timedelta):
        seconds: float | None = value.total_seconds()
    else:
        seconds = to_float(value)
    if seconds is None or seconds < 0:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} m"
    if minutes:
        return f"{minutes} m {secs:02d} s"
    return f"{secs} s"


@register.simple_tag
def elapsed(start: dt.datetime | None, end: dt.datetime | None = None) -> str:
    """Time between ``start`` and ``end`` (or now)."""
    if start is None:
        return "—"
    return duration((end or timezone.now()) - start)


@register.filter
def number(value: object, digits: int = 4) -> str:
    """A float with ``digits`` significant digits; ints stay exact."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    converted = to_float(value)
    if converted is None:
        if isinstance(value, float) and math.isinf(value):
            return "\u2212\u221e" if value < 0 else "\u221e"
        return "—" if value is None else str(value)
    if converted.is_integer() and abs(converted) < 1e15:
        return f"{int(converted):,}"
    return f"{converted:.{digits}g}"


@register.filter
def percent(value: object, digits: int = 1) -> str:
    """A fraction in [0, 1] as a percentage."""
    converted = to_float(value)
    if converted is None:
        return "—"
    return f"{converted * 100:.{digits}f}%"


@register.filter
def progress_percent(value: object) -> int:
    """Progress fraction to a whole percent clamped to 0..100."""
    converted = to_float(value) or 0.0
    return max(0, min(100, round(converted * 100)))


@register.filter
def get_item(mapping: object, key: object) -> object:
    """``mapping[key]`` in a template, ``None`` when absent."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def display(value: object) -> str:
    """A settings value as a person reads it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        if {"start", "stop", "num"} <= value.keys():
            return (
                f"{number(value['num'])} values, {number(value['start'])} to "
                f"{number(value['stop'])} (log-spaced)"
            )
        return ", ".join(f"{k}: {display(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(display(v) for v in value)
    if isinstance(value, float | int):
        return number(value)
    return str(value)


_BANDWIDTH_WORDS = {
    "cv": "cross-validated over the grid",
    "scott": "Scott's rule",
    "silverman": "Silverman's rule",
}
_SCOPE_WORDS = {"shared": "one PCA for all digits", "per_class": "one PCA per digit"}


@register.filter
def setting(value: object, key: str) -> str:
    """A training setting as a person reads it (``{{ value|setting:"kernel" }}``)."""
    if key == "bandwidth" and isinstance(value, str):
        return _BANDWIDTH_WORDS.get(value, value)
    if key == "pca_scope" and isinstance(value, str):
        return _SCOPE_WORDS.get(value, value)
    if key == "n_components" and isinstance(value, float) and 0 < value < 1:
        return f"enough for {value:.0%} of the variance"
    return display(value)


@register.filter
def loglik(value: object, digits: int = 4) -> str:
    """A log-likelihood; the generator stores -inf (compact kernels) as null."""
    if value is None:
        return "\u2212\u221e"
    return number(value, digits)


@register.filter
def walk_end(walk: dict[str, Any] | None, side: str) -> str:
    """``{{ walk|walk_end:"from" }}``: one end of a walk's end points in words."""
    return describe_walk_end(walk, side)
