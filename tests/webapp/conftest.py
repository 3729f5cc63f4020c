from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_services: None) -> None:
    """Every webapp test runs with the unit-test settings of tests/conftest.py."""


@dataclass
class Dispatched:
    """The (kind, job id, task id) of every job sent to the broker."""

    calls: list[tuple[str, UUID, str]] = field(default_factory=list)

    @property
    def job_ids(self) -> list[UUID]:
        return [job_id for _, job_id, _ in self.calls]


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch) -> Dispatched:
    """Record dispatches instead of talking to a broker (unit tests only)."""
    from webapp.jobs import dispatch

    record = Dispatched()
    monkeypatch.setattr(
        dispatch,
        "train",
        lambda job_id, *, task_id: record.calls.append(("training", job_id, task_id)),
    )
    monkeypatch.setattr(
        dispatch,
        "generate",
        lambda job_id, *, task_id: record.calls.append(("generation", job_id, task_id)),
    )
    return record
