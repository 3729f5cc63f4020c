"""The file answers that the API and the share pages both give: a generated
image, a gallery's sheet and ZIP, a model's .npz; and an image as a data: URL."""

from __future__ import annotations

import base64

from django.http import HttpResponse, StreamingHttpResponse

from webapp.gallery import services as gallery_services
from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs import serving
from webapp.jobs.models import ModelVersion

# Images are immutable once written; private because they belong to one user.
IMAGE_CACHE_CONTROL = "private, max-age=86400"


def png_data_url(png: bytes) -> str:
    """A PNG as a ``data:`` URL: an ``<img>`` (or a JSON answer) that costs no
    request."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_response(png: bytes) -> HttpResponse:
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = IMAGE_CACHE_CONTROL
    return response


def image_response(image: GeneratedImage) -> HttpResponse:
    """One generated image, inline, named for what it is."""
    response = png_response(bytes(image.png))
    response["Content-Disposition"] = (
        f'inline; filename="{gallery_services.image_filename(image)}"'
    )
    return response


def gallery_gif_response(gallery: Gallery) -> HttpResponse:
    """A walk's frames as an animated GIF (the caller checks it is a walk)."""
    response = HttpResponse(
        gallery_services.gallery_gif(gallery), content_type="image/gif"
    )
    response["Cache-Control"] = IMAGE_CACHE_CONTROL
    response["Content-Disposition"] = f'inline; filename="walk-{gallery.pk}.gif"'
    return response


def gallery_zip_response(gallery: Gallery) -> HttpResponse:
    """Every image of the gallery as a PNG file in one ZIP, with a gallery.json."""
    response = HttpResponse(
        gallery_services.gallery_zip(gallery), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="gallery-{gallery.pk}.zip"'
    return response


def model_file_response(model_version: ModelVersion) -> StreamingHttpResponse:
    """The model's .npz streamed, checked first (serving.ModelUnavailable if not)."""
    response = StreamingHttpResponse(
        serving.model_file_stream(model_version),
        content_type="application/octet-stream",
    )
    response["Content-Length"] = str(model_version.model_size)
    filename = f"model-{model_version.pk}-v{model_version.version}.npz"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-SHA256"] = model_version.model_sha256
    return response
