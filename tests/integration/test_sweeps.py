"""A parameter sweep through the real stack: its runs are fed into one training
slot as each ends, and every one runs once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.integration_support import (
    Api,
    WorkerProcess,
    sign_up,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ACTIVE = ("queued", "running")


def test_a_sweep_runs_every_combination_once_one_slot_at_a_time(
    api: Callable[[], Api], celery_worker: WorkerProcess, settings: Any
) -> None:
    from webapp.jobs.models import Job, ModelVersion

    # The worker's environment sets the same limit (tests/integration/conftest.py).
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    carol = sign_up(api(), "carol")
    status, sweep = carol.post(
        "/api/v1/sweeps",
        {
            "name": "tiny",
            "base": {
                "preset": "preview",
                "dataset": "digits",
                "n_train": 300,
                "bandwidth": 1.0,
            },
            "grid": {"n_components": [4, 6, 8]},
        },
    )
    assert status == 202, sweep
    assert (sweep["state"], sweep["total"], sweep["finished"]) == ("running", 3, 0)
    # The first run is sent at once (an idle worker may already have claimed it by
    # the time the answer is built); the others wait for its slot.
    assert sweep["runs"][0]["state"] in ACTIVE
    assert [run["state"] for run in sweep["runs"][1:]] == ["waiting", "waiting"]

    most_active = 0

    def finished() -> dict[str, Any] | None:
        nonlocal most_active
        status, body = carol.get(f"/api/v1/sweeps/{sweep['id']}")
        assert status == 200, body
        active = sum(run["state"] in ACTIVE for run in body["runs"])
        most_active = max(most_active, active)
        return body if body["state"] != "running" else None

    done = wait_for(
        finished, timeout=180, what="the sweep to finish", log=celery_worker
    )

    assert (done["state"], done["total"], done["finished"]) == ("succeeded", 3, 3)
    assert most_active == 1
    jobs = Job.objects.filter(pk__in=done["jobs"])
    assert sorted(jobs.values_list("state", "attempts")) == [("succeeded", 1)] * 3
    assert sorted(
        ModelVersion.objects.filter(training_job__in=jobs).values_list(
            "metrics__n_components", flat=True
        )
    ) == [4, 6, 8]
    assert all(run["test_log_likelihood"] is not None for run in done["runs"])
