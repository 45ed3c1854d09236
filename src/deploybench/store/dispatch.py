"""Jobs sent to remote targets, and the agents that take them: a dispatch goes queued -> running (each
delivery an attempt) -> done (its result stored in the same transaction, once) or failed (after too many
attempts); an agent is online while it keeps reporting."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deploybench.core.errors import NotFoundError
from deploybench.core.records import JobSpec, ResultRecord
from deploybench.store.results import ResultStore, as_utc
from deploybench.store.schema import AgentRow, DispatchRow

MAX_ATTEMPTS = 3
"""Deliveries of one dispatch before it is marked failed (an agent killed mid-job is one attempt)."""
OFFLINE_AFTER = timedelta(seconds=30)
"""An agent not heard from for this long is shown offline."""


@dataclass(frozen=True)
class Dispatch:
    """One job sent to a target, as it stands."""

    id: str
    job: JobSpec
    target: str
    campaign: str | None
    state: str
    attempts: int
    result_id: int | None
    message: str | None
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """Everything but the job, as JSON-ready values."""
        return {
            "id": self.id,
            "job_key": self.job.key(),
            "target": self.target,
            "campaign": self.campaign,
            "state": self.state,
            "attempts": self.attempts,
            "result_id": self.result_id,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class AgentStatus:
    """One agent: its target, when it was last heard from, whether that is recent, and what it reported."""

    name: str
    target: str
    last_seen: datetime
    online: bool
    report: dict[str, Any]


def _dispatch(row: DispatchRow) -> Dispatch:
    return Dispatch(
        id=row.id,
        job=JobSpec.model_validate_json(row.job_json),
        target=row.target,
        campaign=row.campaign,
        state=row.state,
        attempts=row.attempts,
        result_id=row.result_id,
        message=row.message,
        created_at=as_utc(row.created_at),
        started_at=as_utc(row.started_at) if row.started_at else None,
        updated_at=as_utc(row.updated_at),
    )


def create_dispatch(
    store: ResultStore, job: JobSpec, target: str, campaign: str | None, retry_failed: bool = False
) -> tuple[Dispatch, bool]:
    """The dispatch of the job to the target, and whether it is new: a dispatch of the same job (by key) to the
    same target that is queued, running or done is answered again (a resumed campaign or a retried request
    queues nothing twice), a failed one too unless retry_failed."""
    alive = ("queued", "running", "done") if retry_failed else ("queued", "running", "done", "failed")
    query = (
        select(DispatchRow)
        .where(DispatchRow.job_key == job.key(), DispatchRow.target == target, DispatchRow.state.in_(alive))
        .order_by(DispatchRow.created_at.desc())
    )
    now = store.now()
    with store.writing() as session, session.begin():
        existing = session.scalars(query).first()
        if existing is not None:
            return _dispatch(existing), False
        row = DispatchRow(
            id=str(uuid.uuid4()),
            job_key=job.key(),
            target=target,
            campaign=campaign,
            job_json=job.model_dump_json(),
            state="queued",
            attempts=0,
            result_id=None,
            message=None,
            created_at=now,
            started_at=None,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return _dispatch(row), True


def withdraw(store: ResultStore, dispatch_id: str) -> None:
    """Remove a dispatch that never reached the queue (the broker refused it), so that sending it again queues
    it afresh."""
    with store.writing() as session, session.begin():
        row = session.get(DispatchRow, dispatch_id)
        if row is not None and row.state == "queued":
            session.delete(row)


def get_dispatch(store: ResultStore, dispatch_id: str) -> Dispatch:
    """The dispatch with that id; NotFoundError when there is none."""
    with Session(store.engine) as session:
        row = session.get(DispatchRow, dispatch_id)
        if row is None:
            raise NotFoundError(f"no dispatch {dispatch_id}")
        return _dispatch(row)


def list_dispatches(store: ResultStore, target: str | None = None, state: str | None = None) -> list[Dispatch]:
    """Dispatches, newest first, of one target and state when given."""
    query = select(DispatchRow).order_by(DispatchRow.created_at.desc())
    if target is not None:
        query = query.where(DispatchRow.target == target)
    if state is not None:
        query = query.where(DispatchRow.state == state)
    with Session(store.engine) as session:
        return [_dispatch(row) for row in session.scalars(query).all()]


def start_attempt(store: ResultStore, dispatch_id: str) -> Dispatch:
    """Count one more delivery of the dispatch: running, or failed once past MAX_ATTEMPTS; a done or failed
    dispatch is left as it is (the agent then drops the message without measuring)."""
    with store.writing() as session, session.begin():
        row = session.get(DispatchRow, dispatch_id, with_for_update=True)
        if row is None:
            raise NotFoundError(f"no dispatch {dispatch_id}")
        if row.state in ("queued", "running"):
            row.attempts += 1
            row.state = "running" if row.attempts <= MAX_ATTEMPTS else "failed"
            if row.state == "failed":
                row.message = f"delivered {MAX_ATTEMPTS} times without a result (agents killed or lost)"
            row.updated_at = row.started_at = store.now()
        session.flush()
        return _dispatch(row)


def complete(store: ResultStore, dispatch_id: str, record: ResultRecord) -> tuple[Dispatch, bool]:
    """Store the dispatch's result and mark it done, in one transaction; a dispatch already done keeps its
    first result (False: nothing stored)."""
    with store.writing() as session, session.begin():
        row = session.get(DispatchRow, dispatch_id, with_for_update=True)
        if row is None:
            raise NotFoundError(f"no dispatch {dispatch_id}")
        if row.result_id is not None:
            return _dispatch(row), False
        result = store.result_row(record, row.campaign)
        session.add(result)
        session.flush()
        row.result_id = result.id
        row.state = "done"
        row.updated_at = store.now()
        session.flush()
        return _dispatch(row), True


def heartbeat(store: ResultStore, name: str, target: str, report: dict[str, Any]) -> None:
    """Record that an agent is alive, with what it reports."""
    with store.writing() as session, session.begin():
        row = session.get(AgentRow, name, with_for_update=True)
        if row is None:
            session.add(AgentRow(name=name, target=target, last_seen=store.now(), report_json=json.dumps(report)))
        else:
            row.target = target
            row.last_seen = store.now()
            row.report_json = json.dumps(report)


def agents(store: ResultStore) -> list[AgentStatus]:
    """Every agent ever heard from, with whether it is online now."""
    now = store.now()
    with Session(store.engine) as session:
        rows = session.scalars(select(AgentRow).order_by(AgentRow.target, AgentRow.name)).all()
        return [
            AgentStatus(
                name=row.name,
                target=row.target,
                last_seen=as_utc(row.last_seen),
                online=now - as_utc(row.last_seen) <= OFFLINE_AFTER,
                report=json.loads(row.report_json),
            )
            for row in rows
        ]
