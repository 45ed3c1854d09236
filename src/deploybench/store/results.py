"""The results store: every ResultRecord saved whole, as JSON, with a few columns to list and filter by."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType

from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from deploybench.core.errors import NotFoundError, QueryError, StoreError
from deploybench.core.records import SCHEMA_VERSION, ResultRecord, Status
from deploybench.store.engine import SQLITE_BEGIN_OPTION, create_store_engine, describe_open_error, error_reason
from deploybench.store.migrate import upgrade_to_head
from deploybench.store.schema import AnalysisRow, FitRow, ResultRow
from deploybench.store.url import prepare_default_folder, redact_url, resolve_url

KEYS_PER_QUERY = 500
"""Job keys looked up per `IN (...)` query, well under SQLite's limit on bound parameters."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, UTC: when a result is stored."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class StoredResult:
    """The listing columns of one stored result; `ResultStore.get(id)` gives the whole record."""

    id: int
    job_key: str
    campaign: str | None
    status: Status
    framework: str
    model_sha256: str
    scenario: str
    created_at: datetime
    median_us: float | None


class ResultStore:
    """A results database (SQLite file or PostgreSQL), migrated to the newest schema when opened.

    Each `save` is one transaction, so a killed process never leaves a half-written result.
    """

    def __init__(self, engine: Engine, url: str, clock: Clock) -> None:
        """Wrap an engine already migrated; use `ResultStore.open` instead."""
        self._engine = engine
        self._clock = clock
        self.url = url
        """The store's URL, password hidden: safe to show."""

    @classmethod
    def open(cls, url: str | None = None, *, clock: Clock = utc_now) -> ResultStore:
        """Open the store at `url` (else `$DEPLOYBENCH_DB`, else `.deploybench/results.db`) and migrate it.

        `clock` stamps `created_at`; tests pass a fake one. Raises StoreError, naming the URL with its
        password hidden, when the database cannot be reached or was migrated by a newer deploybench.
        """
        resolved = resolve_url(url)
        shown = redact_url(resolved)
        prepare_default_folder(resolved)
        engine = create_store_engine(resolved)
        try:
            upgrade_to_head(engine, shown)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise describe_open_error(resolved, exc) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, shown, clock)

    @property
    def engine(self) -> Engine:
        """The migrated engine, for the store's other tables (tokens)."""
        return self._engine

    def writing(self) -> Session:
        """A session for a read-then-write transaction: on SQLite it takes the write lock when it begins
        (BEGIN IMMEDIATE), so concurrent writers wait their turn instead of failing with "database is locked"."""
        return Session(self._engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}))

    def now(self) -> datetime:
        """The store's clock, in UTC."""
        return self._clock().astimezone(timezone.utc)

    def save(self, record: ResultRecord, campaign: str | None = None) -> int:
        """Store `record` (optionally as part of `campaign`) in one transaction and return its id."""
        row = self.result_row(record, campaign)
        with self._translated("save a result to"), self.writing() as session, session.begin():
            session.add(row)
            session.flush()
            result_id = row.id
        return result_id

    def result_row(self, record: ResultRecord, campaign: str | None = None) -> ResultRow:
        """The row that stores `record`, for a transaction of the caller's (refuses a newer record schema)."""
        if record.schema_version > SCHEMA_VERSION:
            raise StoreError(
                f"result of job {record.job_key} has record schema version {record.schema_version}, "
                f"newer than this deploybench's {SCHEMA_VERSION}",
                hint="save it with the deploybench that made it, or upgrade deploybench",
            )
        return ResultRow(
            job_key=record.job_key,
            campaign=campaign,
            status=record.status.value,
            framework=record.job.framework,
            model_sha256=record.job.model.sha256,
            scenario=record.job.scenario.kind.value,
            created_at=self.now(),
            schema_version=record.schema_version,
            median_us=median_us(record),
            record_json=record.model_dump_json(),
        )

    def get(self, result_id: int) -> ResultRecord:
        """The record stored under `result_id`; NotFoundError when there is none."""
        with self._translated("read a result from"), Session(self._engine) as session:
            row = session.get(ResultRow, result_id)
            if row is None:
                raise NotFoundError(
                    f"no result with id {result_id} in the results store `{self.url}`",
                    hint="list the stored results to see their ids",
                )
            return self._record(row)

    def rows(
        self,
        campaign: str | None = None,
        framework: str | None = None,
        status: Status | None = None,
        limit: int | None = None,
    ) -> list[StoredResult]:
        """Listing columns of the stored results matching every filter given, newest first, at most `limit`."""
        if limit is not None and limit < 1:
            raise QueryError(f"`limit` must be at least 1, not {limit}", hint="leave it out to list every result")
        query = select(
            ResultRow.id,
            ResultRow.job_key,
            ResultRow.campaign,
            ResultRow.status,
            ResultRow.framework,
            ResultRow.model_sha256,
            ResultRow.scenario,
            ResultRow.created_at,
            ResultRow.median_us,
        ).order_by(ResultRow.id.desc())
        if campaign is not None:
            query = query.where(ResultRow.campaign == campaign)
        if framework is not None:
            query = query.where(ResultRow.framework == framework)
        if status is not None:
            query = query.where(ResultRow.status == Status(status).value)
        if limit is not None:
            query = query.limit(limit)
        with self._translated("list results in"), Session(self._engine) as session:
            found = session.execute(query).all()
        return [
            StoredResult(
                id=r.id,
                job_key=r.job_key,
                campaign=r.campaign,
                status=Status(r.status),
                framework=r.framework,
                model_sha256=r.model_sha256,
                scenario=r.scenario,
                created_at=as_utc(r.created_at),
                median_us=r.median_us,
            )
            for r in found
        ]

    def done_keys(self, keys: Iterable[str], include_failed: bool = False) -> set[str]:
        """Which of `keys` already have a stored result: status ok only, or any status with `include_failed`.

        A campaign resumes by skipping these jobs.
        """
        wanted = list(dict.fromkeys(keys))
        done: set[str] = set()
        with self._translated("look up job keys in"), Session(self._engine) as session:
            for start in range(0, len(wanted), KEYS_PER_QUERY):
                query = select(ResultRow.job_key).where(ResultRow.job_key.in_(wanted[start : start + KEYS_PER_QUERY]))
                if not include_failed:
                    query = query.where(ResultRow.status == Status.OK.value)
                done.update(session.scalars(query.distinct()))
        return done

    def ids_of(self, job_key: str) -> list[int]:
        """The ids of every stored result of the job `job_key`, oldest first."""
        query = select(ResultRow.id).where(ResultRow.job_key == job_key).order_by(ResultRow.id)
        with self._translated("read results from"), Session(self._engine) as session:
            return list(session.scalars(query).all())

    def latest(self, job_key: str) -> ResultRecord | None:
        """The most recently stored record of the job `job_key`, whatever its status; None when there is none."""
        query = select(ResultRow).where(ResultRow.job_key == job_key).order_by(ResultRow.id.desc()).limit(1)
        with self._translated("read a result from"), Session(self._engine) as session:
            row = session.scalars(query).first()
            return None if row is None else self._record(row)

    def save_analysis(self, kind: str, model_sha256: str, model_path: str, version: str, report_json: str) -> int:
        """Store one analysis of a model (`anatomy` or `compliance`) in one transaction and return its id; the
        selection tool finds it again by the model's hash."""
        row = AnalysisRow(
            kind=kind,
            model_sha256=model_sha256,
            model_path=model_path,
            created_at=self._clock().astimezone(timezone.utc),
            deploybench_version=version,
            report_json=report_json,
        )
        with self._translated("save an analysis to"), self.writing() as session, session.begin():
            session.add(row)
            session.flush()
            analysis_id = row.id
        return analysis_id

    def latest_analysis(self, kind: str, model_sha256: str) -> str | None:
        """The JSON of the newest analysis of that kind of the model with that hash; None when there is none."""
        query = (
            select(AnalysisRow.report_json)
            .where(AnalysisRow.kind == kind, AnalysisRow.model_sha256 == model_sha256)
            .order_by(AnalysisRow.id.desc())
            .limit(1)
        )
        with self._translated("read an analysis from"), Session(self._engine) as session:
            return session.scalars(query).first()

    def save_fits(self, kind: str, payloads: dict[str, str], version: str) -> int:
        """Store what one `predict fit` learned of a kind, one JSON payload per key, in one transaction; the
        number stored. Older fits stay, and the newest per key wins."""
        now = self._clock().astimezone(timezone.utc)
        rows = [
            FitRow(kind=kind, key=key, created_at=now, deploybench_version=version, payload_json=payload)
            for key, payload in payloads.items()
        ]
        with self._translated("save a fit to"), self.writing() as session, session.begin():
            session.add_all(rows)
        return len(rows)

    def latest_fits(self, kind: str) -> dict[str, str]:
        """The newest JSON payload of each key of that kind of fit."""
        query = select(FitRow.key, FitRow.payload_json).where(FitRow.kind == kind).order_by(FitRow.id)
        with self._translated("read the fits from"), Session(self._engine) as session:
            return {key: payload for key, payload in session.execute(query).all()}

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _record(self, row: ResultRow) -> ResultRecord:
        """The record of `row`, refusing one written by a newer deploybench rather than misreading it."""
        if row.schema_version > SCHEMA_VERSION:
            raise StoreError(
                f"result {row.id} in the results store `{self.url}` has record schema version "
                f"{row.schema_version}, newer than this deploybench's {SCHEMA_VERSION}",
                hint="upgrade deploybench to read it",
            )
        try:
            return ResultRecord.model_validate_json(row.record_json)
        except ValidationError as exc:
            raise StoreError(
                f"result {row.id} in the results store `{self.url}` is not a valid record: "
                f"{exc.error_count()} error(s), first: {exc.errors()[0]['msg']}",
                hint="the row was changed outside deploybench; delete it or restore the database",
            ) from exc

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Turn database failures into a StoreError saying what was being done, where."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot {action} the results store `{self.url}`: {error_reason(exc)}",
                hint="check that the database is reachable and writable, then retry",
            ) from exc


def median_us(record: ResultRecord) -> float | None:
    """The median latency of the record's first measurement, µs, for quick listing; None when unmeasured."""
    return record.measurements[0].summary.median_us if record.measurements else None


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime; SQLite gives back naive ones, which the store wrote in UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
