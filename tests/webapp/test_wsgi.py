"""The WSGI entry point loads every view, then freezes what it loaded (gc.freeze)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fresh_python import run_python

SCRIPT = """
import gc, json
import webapp.wsgi
from webapp.jobs.api import JobViewSet
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "view_collected": any(o is JobViewSet for o in gc.get_objects()),
}))
"""


def test_a_web_process_freezes_django_and_every_view_before_serving(
    tmp_path: Path,
) -> None:
    # A fresh interpreter on the zero-configuration settings, as a web process.
    result = run_python(SCRIPT, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    # The views came in with the URLconf before the freeze: full collections
    # no longer walk them.
    assert loaded["view_collected"] is False
    assert loaded["frozen"] > 10_000
