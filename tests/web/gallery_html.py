"""Reading a gallery page's images out of its HTML."""

from __future__ import annotations

import base64
import re

DATA_URL = "data:image/png;base64,"
_IMAGE_SOURCE = re.compile(r'<img class="digit-img" src="([^"]+)"')
_DOWNLOAD_LINK = re.compile(r'<a href="([^"]+)" download="image-\d+\.png"')


def inline_pngs(html: str) -> list[bytes]:
    """The PNG bytes of the page's images, in order; each must be a data: URL
    (an image the browser would fetch on its own fails the assertion)."""
    sources = _IMAGE_SOURCE.findall(html)
    assert all(source.startswith(DATA_URL) for source in sources), sources
    return [base64.b64decode(source.removeprefix(DATA_URL)) for source in sources]


def download_links(html: str) -> list[str]:
    """Where each image's own download link points, in order."""
    return _DOWNLOAD_LINK.findall(html)
