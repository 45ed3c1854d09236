"""The results store on real databases: a SQLite file, and PostgreSQL when a server is reachable."""

from __future__ import annotations

import logging
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.support.postgres import scratch_database

from deploybench.core.errors import NotFoundError, QueryError, StoreError
from deploybench.core.records import (
    SCHEMA_VERSION,
    Determinism,
    Failure,
    JobSpec,
    LatencySummary,
    Measurement,
    ModelRef,
    ResultRecord,
    Scenario,
    ScenarioKind,
    Status,
)
from deploybench.store import DATABASE_ENV, DEFAULT_URL, ResultStore, StoredResult, resolve_url
from deploybench.store.engine import create_store_engine
from deploybench.store.migrate import current_revisions, head_revision
from deploybench.store.schema import VERSION_TABLE, Base

MODEL_SHA = "ab" * 32
START = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


# ---------------------------------------------------------------- records


def job(framework: str = "onnxruntime", threads: int = 1, kind: ScenarioKind = ScenarioKind.SINGLE_STREAM) -> JobSpec:
    return JobSpec(
        model=ModelRef(path="model.onnx", sha256=MODEL_SHA, size_bytes=1234),
        framework=framework,
        settings={"threads": threads},
        scenario=Scenario(kind=kind),
    )


def failed(spec: JobSpec) -> ResultRecord:
    return ResultRecord(
        job=spec,
        job_key=spec.key(),
        status=Status.FAILED,
        failure=Failure(kind="crash", phase="load", message="segfault; try fewer threads", exit_code=-11),
    )


def measured(spec: JobSpec, median_us: float = 100.0, samples: int = 5) -> ResultRecord:
    values = tuple(median_us + i for i in range(samples))
    summary = LatencySummary(
        count=samples,
        min_us=values[0],
        mean_us=median_us,
        median_us=median_us,
        p90_us=values[-1],
        p95_us=values[-1],
        p99_us=values[-1],
        p999_us=values[-1],
        max_us=values[-1],
        std_us=1.5,
        cv=0.015,
        jitter_p99_p50_us=2.0,
        jitter_range_us=4.0,
        median_ci_low_us=median_us - 1,
        median_ci_high_us=median_us + 1,
        ci_confidence=0.95,
    )
    measurement = Measurement(
        scenario=spec.scenario.kind,
        batch_size=1,
        samples_us=values,
        summary=summary,
        determinism=Determinism(verdict="deterministic", rule="cv < 0.05"),
        throughput_per_s=1e6 / median_us,
        warmup_runs=10,
        warmup_stable=True,
        stopped_by="ci",
        sampling_s=0.5,
    )
    return ResultRecord(job=spec, job_key=spec.key(), status=Status.OK, measurements=(measurement,))


class FakeClock:
    """Each call is one minute after the previous one; given in UTC+2 to check the store converts."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return (START + timedelta(minutes=self.calls - 1)).astimezone(timezone(timedelta(hours=2)))


# ---------------------------------------------------------------- databases


@pytest.fixture(autouse=True)
def _no_store_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_ENV, raising=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """URL of a uniquely named scratch database, created for this session and dropped after it."""
    with scratch_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind; PostgreSQL's scratch database is emptied after each test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.db'}"
        return
    database: str = request.getfixturevalue("postgres_database")
    yield database
    engine = sa.create_engine(database, connect_args={"options": "-c lock_timeout=10s"})
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {', '.join(Base.metadata.tables)}, {VERSION_TABLE}")
    engine.dispose()


OpenStore = Callable[..., ResultStore]


@pytest.fixture
def open_store(url: str) -> Iterator[OpenStore]:
    """Open stores on `url` (with a fake clock unless given one) and close them all after the test."""
    opened: list[ResultStore] = []

    def make(clock: Callable[[], datetime] | None = None) -> ResultStore:
        store = ResultStore.open(url, clock=clock or FakeClock())
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def execute(url: str, sql: str, **params: object) -> None:
    """Run one statement outside the store, as another program (or a newer deploybench) would."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(sql), params)
    engine.dispose()


# ---------------------------------------------------------------- round trip, listing, lookups


def test_records_round_trip_with_their_listing_columns(open_store: OpenStore) -> None:
    store = open_store()
    ok = measured(job(threads=2, kind=ScenarioKind.OFFLINE), median_us=250.5, samples=300)
    bad = failed(job(framework="tvm"))
    ok_id = store.save(ok, campaign="nightly")
    bad_id = store.save(bad)
    assert ok_id != bad_id
    assert store.get(ok_id) == ok
    assert store.get(bad_id) == bad

    rows = {row.id: row for row in store.rows()}
    assert rows[ok_id] == StoredResult(
        id=ok_id,
        job_key=ok.job_key,
        campaign="nightly",
        status=Status.OK,
        framework="onnxruntime",
        model_sha256=MODEL_SHA,
        scenario="offline",
        created_at=START,
        median_us=250.5,
    )
    assert rows[bad_id].median_us is None
    assert rows[bad_id].campaign is None
    assert rows[bad_id].status is Status.FAILED
    assert rows[bad_id].created_at == START + timedelta(minutes=1)
    assert rows[bad_id].created_at.utcoffset() == timedelta(0)


def test_results_survive_reopening(open_store: OpenStore) -> None:
    record = measured(job())
    result_id = open_store().save(record)
    assert open_store().get(result_id) == record


def test_missing_id_raises_not_found(open_store: OpenStore) -> None:
    store = open_store()
    store.save(failed(job()))
    with pytest.raises(NotFoundError, match=r"no result with id 999 in the results store"):
        store.get(999)


def test_done_keys_are_ok_results_unless_failures_are_included(open_store: OpenStore) -> None:
    store = open_store()
    done, broken, retried, never = (job(threads=n) for n in (1, 2, 3, 4))
    store.save(measured(done))
    store.save(failed(broken))
    store.save(failed(retried))
    store.save(measured(retried))
    keys = [spec.key() for spec in (done, broken, retried, never)]
    assert store.done_keys(keys) == {done.key(), retried.key()}
    assert store.done_keys(iter(keys), include_failed=True) == {done.key(), broken.key(), retried.key()}
    assert store.done_keys([]) == set()


def test_done_keys_looks_up_more_keys_than_one_query_takes(open_store: OpenStore) -> None:
    store = open_store()
    last = job(threads=2000)
    store.save(measured(last))
    keys = [f"{n:064x}" for n in range(1500)] + [last.key()]
    assert store.done_keys(keys) == {last.key()}


def test_rows_filter_by_campaign_framework_and_status_newest_first(open_store: OpenStore) -> None:
    store = open_store()
    a = store.save(measured(job("onnxruntime", 1)), campaign="c1")
    b = store.save(failed(job("onnxruntime", 2)), campaign="c1")
    c = store.save(measured(job("tvm", 1)), campaign="c2")
    d = store.save(measured(job("tvm", 2)))

    def ids(**filters: object) -> list[int]:
        return [row.id for row in store.rows(**filters)]  # type: ignore[arg-type]

    assert ids() == [d, c, b, a]
    assert ids(campaign="c1") == [b, a]
    assert ids(framework="tvm") == [d, c]
    assert ids(status=Status.OK) == [d, c, a]
    assert ids(status=Status.FAILED) == [b]
    assert ids(campaign="c1", status=Status.OK) == [a]
    assert ids(campaign="c2", framework="onnxruntime") == []
    assert ids(limit=2) == [d, c]
    with pytest.raises(QueryError, match="`limit` must be at least 1"):
        store.rows(limit=0)


def test_latest_is_the_most_recent_record_of_a_job(open_store: OpenStore) -> None:
    store = open_store()
    spec = job()
    store.save(failed(spec))
    retry = measured(spec, median_us=42.0)
    store.save(retry)
    store.save(measured(job(threads=9)))
    assert store.latest(spec.key()) == retry
    assert store.latest("0" * 64) is None


def test_the_newest_fit_of_each_key_wins_and_other_kinds_stay_apart(open_store: OpenStore) -> None:
    store = open_store()
    assert store.latest_fits("calibrated") == {}
    assert store.save_fits("calibrated", {"a|local|fp32|1": '{"v": 1}', "b|local|fp32|1": '{"v": 2}'}, "t") == 2
    store.save_fits("calibrated", {"a|local|fp32|1": '{"v": 3}'}, "t")
    store.save_fits("peaks", {"a|local|fp32|1": '{"v": 4}'}, "t")
    assert store.latest_fits("calibrated") == {"a|local|fp32|1": '{"v": 3}', "b|local|fp32|1": '{"v": 2}'}
    assert store.latest_fits("peaks") == {"a|local|fp32|1": '{"v": 4}'}


# ---------------------------------------------------------------- migrations


def test_migrations_create_the_schema_from_empty_and_are_idempotent(open_store: OpenStore, url: str) -> None:
    assert table_names(url) == set()
    first = open_store()
    assert table_names(url) == {*Base.metadata.tables, VERSION_TABLE}
    record = measured(job())
    result_id = first.save(record)
    first.close()

    second = open_store()
    assert second.get(result_id) == record
    assert [row.id for row in second.rows()] == [result_id]
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert current_revisions(connection) == {head_revision()}
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


OPEN_ON_GO = """
import sys
from deploybench.store import ResultStore

print("ready", flush=True)
sys.stdin.readline()
ResultStore.open(sys.argv[1]).close()
print("opened", flush=True)
"""


def test_processes_opening_a_new_store_at_once_all_succeed(url: str) -> None:
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_ON_GO, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for opener in openers:
        assert opener.stdout is not None
        assert opener.stdout.readline() == "ready\n"
    for opener in openers:
        assert opener.stdin is not None
        opener.stdin.write("go\n")
        opener.stdin.flush()
    outcomes = [(opener.communicate(timeout=120), opener.returncode) for opener in openers]
    assert [(out, status) for (out, _), status in outcomes] == [("opened\n", 0)] * 4, outcomes
    assert table_names(url) == {*Base.metadata.tables, VERSION_TABLE}


def test_threads_opening_stores_at_once_all_succeed(tmp_path: Path) -> None:
    """Alembic keeps one module-wide context, so the store must not run two migrations at once in a process."""
    errors: list[BaseException] = []

    def open_one(name: str) -> None:
        try:
            ResultStore.open(f"sqlite:///{tmp_path / name}").close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(f"{n}.db",), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "opening deadlocked"
    assert errors == []
    expected = {*Base.metadata.tables, VERSION_TABLE}
    assert all(table_names(f"sqlite:///{tmp_path / f'{n}.db'}") == expected for n in range(8))


def test_database_migrated_by_a_newer_deploybench_is_refused(open_store: OpenStore, url: str) -> None:
    open_store()
    execute(url, f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"has schema revision 9999, newer than this deploybench knows") as caught:
        ResultStore.open(url)
    assert caught.value.hint == "upgrade deploybench, or choose another store"


def test_opening_prints_nothing_and_leaves_logging_alone(capfd: pytest.CaptureFixture[str], url: str) -> None:
    handlers = list(logging.getLogger().handlers)
    level = logging.getLogger().level
    ResultStore.open(url).close()
    assert capfd.readouterr() == ("", "")
    assert logging.getLogger().handlers == handlers
    assert logging.getLogger().level == level
    assert all(type(handler) is logging.NullHandler for handler in logging.getLogger("alembic").handlers)


# ---------------------------------------------------------------- schema versions of records


def test_saving_a_record_newer_than_the_code_is_refused(open_store: OpenStore) -> None:
    spec = job()
    newer = ResultRecord(schema_version=SCHEMA_VERSION + 1, job=spec, job_key=spec.key(), status=Status.OK)
    store = open_store()
    with pytest.raises(StoreError, match=rf"record schema version {SCHEMA_VERSION + 1}, newer than"):
        store.save(newer)
    assert store.rows() == []


def test_reading_a_record_written_by_a_newer_deploybench_is_refused(open_store: OpenStore, url: str) -> None:
    store = open_store()
    record = measured(job())
    result_id = store.save(record)
    newer = record.model_dump_json().replace(
        f'"schema_version":{SCHEMA_VERSION},', f'"schema_version":{SCHEMA_VERSION + 1},"new_field":1,', 1
    )
    execute(
        url,
        "UPDATE results SET schema_version = :version, record_json = :json WHERE id = :id",
        version=SCHEMA_VERSION + 1,
        json=newer,
        id=result_id,
    )
    message = rf"result {result_id} .* has record schema version {SCHEMA_VERSION + 1}, newer than"
    with pytest.raises(StoreError, match=message) as caught:
        store.get(result_id)
    assert caught.value.hint == "upgrade deploybench to read it"
    with pytest.raises(StoreError, match=message):
        store.latest(record.job_key)


def test_a_row_changed_outside_deploybench_gives_a_store_error(open_store: OpenStore, url: str) -> None:
    store = open_store()
    result_id = store.save(failed(job()))
    execute(url, "UPDATE results SET record_json = '{}' WHERE id = :id", id=result_id)
    with pytest.raises(StoreError, match=rf"result {result_id} .* is not a valid record"):
        store.get(result_id)


# ---------------------------------------------------------------- URLs


def test_url_order_is_explicit_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_url(None) == DEFAULT_URL
    monkeypatch.setenv(DATABASE_ENV, "sqlite:///env.db")
    assert resolve_url(None) == "sqlite:///env.db"
    assert resolve_url("sqlite:///given.db") == "sqlite:///given.db"
    monkeypatch.setenv(DATABASE_ENV, "")
    assert resolve_url(None) == DEFAULT_URL


def test_default_store_is_a_sqlite_file_under_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with ResultStore.open() as store:
        result_id = store.save(failed(job()))
    path = tmp_path / ".deploybench" / "results.db"
    assert path.is_file()
    with ResultStore.open(f"sqlite:///{path}") as store:
        assert store.get(result_id).status is Status.FAILED


def test_environment_names_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATABASE_ENV, f"sqlite:///{tmp_path / 'env.db'}")
    ResultStore.open().close()
    assert (tmp_path / "env.db").is_file()
    assert not (tmp_path / ".deploybench").exists()


def test_unreachable_server_names_the_url_without_its_password() -> None:
    with pytest.raises(StoreError) as caught:
        ResultStore.open("postgresql+psycopg://bench:s3cret@127.0.0.1:1/results")
    message = str(caught.value)
    assert "cannot open the results store `postgresql+psycopg://bench:***@127.0.0.1:1/results`" in message
    assert "s3cret" not in message
    assert "check that the server is running" in message


def test_sqlite_file_in_a_missing_folder_says_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'results.db'}"
    with pytest.raises(StoreError, match=r"cannot open the results store `sqlite:///.*missing/results.db`") as caught:
        ResultStore.open(url)
    assert caught.value.hint is not None
    assert "folder exists and is writable" in caught.value.hint


@pytest.mark.parametrize(
    ("bad_url", "expected"),
    [
        ("not a url", r"cannot parse the results store URL `not a url`"),
        ("nosuchdb://bench:s3cret@host/db", r"unknown kind of database .* `nosuchdb://bench:\*\*\*@host/db`"),
        ("mysql+pymysql://bench:s3cret@host/db", r"driver for `mysql\+pymysql://bench:\*\*\*@host/db` is not"),
    ],
)
def test_malformed_urls_and_missing_drivers_are_store_errors(bad_url: str, expected: str) -> None:
    with pytest.raises(StoreError, match=expected) as caught:
        ResultStore.open(bad_url)
    assert "s3cret" not in str(caught.value)


# ---------------------------------------------------------------- SQLite durability


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    ResultStore.open(url).close()
    engine = create_store_engine(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    engine.dispose()


SAVE_FOREVER = """
import sys
from deploybench.core.records import ResultRecord
from deploybench.store import ResultStore

record = ResultRecord.model_validate_json(open(sys.argv[2], encoding="utf-8").read())
store = ResultStore.open(sys.argv[1])
while True:
    print(store.save(record), flush=True)
"""


def run_writer_until_killed(url: str, record_file: Path, saves: int, delay_s: float, stderr: Path) -> list[int]:
    """Start a writer saving in a loop, SIGKILL it `delay_s` after its `saves`-th save; the ids it reported."""
    with stderr.open("w") as errors:
        writer = subprocess.Popen(
            [sys.executable, "-c", SAVE_FOREVER, url, str(record_file)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert writer.stdout is not None
        reported = []
        for line in writer.stdout:
            reported.append(int(line))
            if len(reported) == saves:
                break
        time.sleep(delay_s)
        writer.send_signal(signal.SIGKILL)
        reported += [int(line) for line in writer.stdout.read().split()]
        writer.wait()
    assert len(reported) >= saves, stderr.read_text()
    assert writer.returncode == -signal.SIGKILL
    return reported


def test_killed_writers_leave_a_sound_file_with_every_reported_record(tmp_path: Path) -> None:
    """Kill points vary with a short seeded delay (under one save's duration), so kills land mid-save."""
    path = tmp_path / "results.db"
    url = f"sqlite:///{path}"
    record = measured(job(), samples=20_000)
    record_file = tmp_path / "record.json"
    record_file.write_text(record.model_dump_json(), encoding="utf-8")
    delays = random.Random(3).sample(range(3000), 6)
    reported: list[int] = []
    for delay_us in delays:
        reported += run_writer_until_killed(url, record_file, 10, delay_us / 1e6, tmp_path / "stderr.txt")
        with closing(sqlite3.connect(path)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        with ResultStore.open(url) as store:
            stored = [row.id for row in store.rows()]
            assert set(reported) <= set(stored)
            for result_id in stored:
                assert store.get(result_id) == record


def test_analyses_are_found_again_by_kind_and_model_hash_newest_first(open_store: OpenStore) -> None:
    store = open_store()
    first = store.save_analysis("anatomy", "a" * 64, "m.onnx", "0.1.0", '{"n": 1}')
    second = store.save_analysis("anatomy", "a" * 64, "copy/m.onnx", "0.1.0", '{"n": 2}')
    store.save_analysis("compliance", "a" * 64, "m.onnx", "0.1.0", '{"n": 3}')
    assert second > first
    assert store.latest_analysis("anatomy", "a" * 64) == '{"n": 2}'
    assert store.latest_analysis("compliance", "a" * 64) == '{"n": 3}'
    assert store.latest_analysis("anatomy", "b" * 64) is None
