"""Dispatches and agents in the store, on SQLite and PostgreSQL, with a hand-driven clock (named fake: the
clock is the only part not real): attempts counted and capped, results stored once, silent agents offline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.support.jobs import quick_job
from tests.support.models import tiny_classifier
from tests.support.postgres import scratch_database

from deploybench.core.records import ResultRecord
from deploybench.store import ResultStore
from deploybench.store.dispatch import (
    MAX_ATTEMPTS,
    agents,
    complete,
    create_dispatch,
    heartbeat,
    list_dispatches,
    start_attempt,
    withdraw,
)


class HandClock:
    """A fake clock that stands still until moved."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ResultStore, HandClock]]:
    clock = HandClock()
    if request.param == "sqlite":
        with ResultStore.open(f"sqlite:///{tmp_path / 'd.db'}", clock=clock) as opened:
            yield opened, clock
        return
    with scratch_database() as url, ResultStore.open(url, clock=clock) as opened:
        yield opened, clock


def test_attempts_are_counted_and_a_dispatch_fails_past_the_limit(
    store: tuple[ResultStore, HandClock], tmp_path: Path
) -> None:
    results, _ = store
    dispatch, new = create_dispatch(results, quick_job(tiny_classifier(tmp_path / "m.onnx"), "onnxruntime"), "b", None)
    assert new and dispatch.state == "queued"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        started = start_attempt(results, dispatch.id)
        assert (started.state, started.attempts) == ("running", attempt)
    failed = start_attempt(results, dispatch.id)
    assert failed.state == "failed" and "delivered 3 times" in (failed.message or "")
    assert start_attempt(results, dispatch.id).attempts == MAX_ATTEMPTS + 1


def test_a_result_is_stored_once_however_often_it_is_sent(store: tuple[ResultStore, HandClock], tmp_path: Path) -> None:
    results, _ = store
    job = quick_job(tiny_classifier(tmp_path / "m.onnx"), "onnxruntime")
    dispatch, _ = create_dispatch(results, job, "b", "lab")
    record = ResultRecord(job_key=job.key(), job=job, status="failed")  # type: ignore[arg-type]
    done, stored = complete(results, dispatch.id, record)
    assert stored and done.state == "done" and done.result_id is not None
    again, stored_again = complete(results, dispatch.id, record)
    assert not stored_again and again.result_id == done.result_id
    assert [row.id for row in results.rows()] == [done.result_id]
    assert results.rows()[0].campaign == "lab"
    assert start_attempt(results, dispatch.id).state == "done"


def test_the_same_job_sent_again_to_the_same_target_is_answered_by_its_dispatch(
    store: tuple[ResultStore, HandClock], tmp_path: Path
) -> None:
    results, _ = store
    job = quick_job(tiny_classifier(tmp_path / "m.onnx"), "onnxruntime")
    first, _ = create_dispatch(results, job, "b", "lab")
    again, new = create_dispatch(results, job, "b", "lab")
    assert not new and again.id == first.id
    elsewhere, new_elsewhere = create_dispatch(results, job, "c", "lab")
    assert new_elsewhere and elsewhere.id != first.id
    for _ in range(MAX_ATTEMPTS + 1):
        start_attempt(results, first.id)
    assert create_dispatch(results, job, "b", "lab")[0].id == first.id
    retried, new_retry = create_dispatch(results, job, "b", "lab", retry_failed=True)
    assert new_retry and retried.id != first.id and retried.state == "queued"
    withdraw(results, retried.id)
    assert [d.id for d in list_dispatches(results, "b")] == [first.id]


def test_an_agent_silent_for_30_seconds_is_offline(store: tuple[ResultStore, HandClock]) -> None:
    results, clock = store
    heartbeat(results, "pi-1", "raspberry-pi-4", {"backends": {"onnxruntime": "1.22"}})
    assert [(a.name, a.online, a.report["backends"]) for a in agents(results)] == [
        ("pi-1", True, {"onnxruntime": "1.22"})
    ]
    clock.now += timedelta(seconds=31)
    assert [a.online for a in agents(results)] == [False]
    heartbeat(results, "pi-1", "raspberry-pi-4", {})
    assert [a.online for a in agents(results)] == [True]
