"""A Celery worker freezes what it loaded (gc.freeze) once it is ready, and each
pool process once it starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fresh_python import run_python

SCRIPT = """
import gc, json, sys
import django
from celery import signals
import worker.celery_app
django.setup()  # as the worker's Django fixup does, before it imports the tasks
from worker import tasks
from webapp.jobs import runner
signal = getattr(signals, sys.argv[1])
before = any(o is runner.run_generation_job for o in gc.get_objects())
signal.send(sender=None)
print(json.dumps({
    "before": before,
    "after": any(o is runner.run_generation_job for o in gc.get_objects()),
}))
"""


@pytest.mark.parametrize("signal", ["worker_ready", "worker_process_init"])
def test_the_worker_freezes_django_and_the_tasks(tmp_path: Path, signal: str) -> None:
    # No evaluation task to send when the worker is ready.
    result = run_python(
        SCRIPT, signal, data_dir=tmp_path, env={"GALLERY_EVALUATION": "0"}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"before": True, "after": False}
