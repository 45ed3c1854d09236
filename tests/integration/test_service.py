"""The REST service over a real results store (SQLite, and PostgreSQL on localhost): roles, artifacts checked
by hash and size, results written only by their target's agent and never twice, and every bad input a 4xx
with a clear message and nothing stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import Run
from tests.support.jobs import quick_job
from tests.support.models import tiny_classifier
from tests.support.postgres import scratch_database

from deploybench.catalog import Catalog
from deploybench.catalog.local import detect_local_machine
from deploybench.core.records import ResultRecord
from deploybench.store import ResultStore
from deploybench.store.tokens import Role, create_token, find_token
from deploybench.worker.launcher import run_in_worker

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from deploybench.service.app import ServiceConfig, create_app

LIMIT = 4096


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> ResultRecord:
    """A real ONNX Runtime result measured on this machine."""
    pytest.importorskip("onnxruntime")
    model = tiny_classifier(tmp_path_factory.mktemp("m") / "m.onnx")
    measured = run_in_worker(quick_job(model, "onnxruntime"))
    assert measured.status.value == "ok", measured.failure
    return measured


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    with scratch_database() as url:
        yield url


@pytest.fixture
def lab(builtin: Catalog) -> Catalog:
    """The built-in catalog plus this machine as the rack board `bench-1`, and a board `bench-2` elsewhere."""
    here = detect_local_machine().to_target()
    one = here.model_copy(update={"name": "bench-1", "aliases": ()})
    two = here.model_copy(update={"name": "bench-2", "aliases": (), "fingerprint": "0" * 64})
    return builtin.with_target(one, "test").with_target(two, "test")


@pytest.fixture
def service(db: str, lab: Catalog, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Path]]:
    """A client of the service and a token of each role (agents and owner of bench-1, one agent of bench-2)."""
    artifacts = tmp_path / "artifacts"
    with ResultStore.open(db) as store:
        tokens = {
            role.value: create_token(store, role, role.value)[1] for role in (Role.READER, Role.SUBMITTER, Role.ADMIN)
        }
        tokens["agent"] = create_token(store, Role.AGENT, "a1", "bench-1")[1]
        tokens["owner"] = create_token(store, Role.OWNER, "o1", "bench-1")[1]
        tokens["other-agent"] = create_token(store, Role.AGENT, "a2", "bench-2")[1]
    app = create_app(ServiceConfig(db=db, artifacts=artifacts, max_upload_bytes=LIMIT), catalog=lab)
    with TestClient(app) as client:
        yield client, tokens, artifacts


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_route_needs_a_valid_token_but_health(service: tuple[TestClient, dict[str, str], Path]) -> None:
    client, tokens, _ = service
    assert client.get("/api/health").json()["status"] == "ok"
    assert client.get("/api/results").status_code == 401
    refused = client.get("/api/results", headers=auth("dbt_not-a-token"))
    assert refused.status_code == 401 and "unknown or revoked" in refused.json()["detail"]
    assert client.get("/api/whoami", headers=auth(tokens["agent"])).json() == {
        "name": "a1",
        "role": "agent",
        "target": "bench-1",
    }
    schema = client.get("/openapi.json").json()
    assert {"/api/results", "/api/artifacts/{sha256}", "/api/catalog/{kind}"} <= set(schema["paths"])


def test_the_catalog_is_served_by_kind_and_name(service: tuple[TestClient, dict[str, str], Path]) -> None:
    client, tokens, _ = service
    targets = client.get("/api/catalog/targets", headers=auth(tokens["reader"])).json()
    assert {"raspberry-pi-4", "bench-1"} <= {t["name"] for t in targets}
    assert client.get("/api/catalog/targets/rpi4", headers=auth(tokens["reader"])).json()["name"] == "raspberry-pi-4"
    missing = client.get("/api/catalog/targets/no-such-board", headers=auth(tokens["reader"]))
    assert missing.status_code == 404 and "no-such-board" in missing.json()["detail"]
    assert client.get("/api/catalog/boards", headers=auth(tokens["reader"])).status_code == 422


@pytest.mark.parametrize(
    ("role", "method", "path", "status"),
    [
        ("reader", "put", "/api/artifacts/" + "a" * 64, 403),
        ("reader", "post", "/api/results", 403),
        ("submitter", "post", "/api/results", 403),
        ("admin", "post", "/api/results", 403),
        ("agent", "put", "/api/artifacts/" + "a" * 64, 403),
        ("submitter", "post", "/api/tokens", 403),
        ("agent", "post", "/api/tokens", 403),
        ("reader", "get", "/api/tokens", 403),
        ("submitter", "delete", "/api/tokens/1", 403),
    ],
)
def test_a_role_cannot_act_as_another(
    service: tuple[TestClient, dict[str, str], Path], role: str, method: str, path: str, status: int
) -> None:
    client, tokens, artifacts = service
    answer = client.request(method.upper(), path, headers=auth(tokens[role]), json={})
    assert answer.status_code == status
    assert f"a {role} token cannot do this" in answer.json()["detail"]
    assert not artifacts.exists() or not any(artifacts.rglob("*a" * 3))


def test_an_artifact_is_stored_once_by_its_hash(service: tuple[TestClient, dict[str, str], Path]) -> None:
    client, tokens, artifacts = service
    body = b"model bytes " * 10
    sha = hashlib.sha256(body).hexdigest()
    first = client.put(f"/api/artifacts/{sha}", content=body, headers=auth(tokens["submitter"]))
    assert first.status_code == 201 and first.json()["stored"] is True
    again = client.put(f"/api/artifacts/{sha}", content=body, headers=auth(tokens["owner"]))
    assert again.status_code == 200 and again.json()["stored"] is False
    fetched = client.get(f"/api/artifacts/{sha}", headers=auth(tokens["agent"]))
    assert fetched.status_code == 200 and fetched.content == body
    assert [p.name for p in artifacts.rglob("*") if p.is_file()] == [sha]


@pytest.mark.parametrize(
    ("name", "body", "status", "message"),
    [
        (hashlib.sha256(b"other").hexdigest(), b"these bytes", 422, "hash to"),
        (hashlib.sha256(b"x" * (LIMIT + 1)).hexdigest(), b"x" * (LIMIT + 1), 413, "larger than the 4096 bytes"),
        ("..secret", b"x", 400, "is not a SHA-256"),
        ("..%2F..%2Fetc%2Fpasswd", b"x", 404, "Not Found"),
        ("ABC", b"x", 400, "is not a SHA-256"),
    ],
)
def test_a_bad_upload_is_refused_and_nothing_is_kept(
    service: tuple[TestClient, dict[str, str], Path], name: str, body: bytes, status: int, message: str
) -> None:
    client, tokens, artifacts = service
    answer = client.put(f"/api/artifacts/{name}", content=body, headers=auth(tokens["submitter"]))
    assert answer.status_code == status
    assert message in answer.json()["detail"]
    assert not artifacts.exists() or not [p for p in artifacts.rglob("*") if p.is_file()]


def test_an_agent_stores_its_targets_results_once(
    service: tuple[TestClient, dict[str, str], Path], record: ResultRecord
) -> None:
    client, tokens, _ = service
    body = record.model_dump_json()
    headers = {**auth(tokens["agent"]), "Content-Type": "application/json"}
    first = client.post("/api/results?campaign=lab", content=body, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/api/results?campaign=lab", content=body, headers=headers)
    assert again.status_code == 200 and again.json() == {"id": first.json()["id"], "stored": False}
    listed = client.get("/api/results", headers=auth(tokens["reader"])).json()
    assert [row["id"] for row in listed] == [first.json()["id"]]
    whole = client.get(f"/api/results/{first.json()['id']}", headers=auth(tokens["reader"])).json()
    assert ResultRecord.model_validate(whole) == record


def test_an_agent_cannot_write_another_targets_results(
    service: tuple[TestClient, dict[str, str], Path], record: ResultRecord
) -> None:
    client, tokens, _ = service
    headers = {**auth(tokens["other-agent"]), "Content-Type": "application/json"}
    answer = client.post("/api/results", content=record.model_dump_json(), headers=headers)
    assert answer.status_code == 403 and "not measured on target `bench-2`" in answer.json()["detail"]
    assert client.get("/api/results", headers=auth(tokens["reader"])).json() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "JSON decode error"),
        ('{"job_key": "x"}', "Field required"),
    ],
)
def test_a_malformed_result_is_a_422_naming_the_problem(
    service: tuple[TestClient, dict[str, str], Path], body: str, message: str
) -> None:
    client, tokens, _ = service
    headers = {**auth(tokens["agent"]), "Content-Type": "application/json"}
    answer = client.post("/api/results", content=body, headers=headers)
    assert answer.status_code == 422
    assert message in answer.json()["detail"]


def test_an_unknown_field_in_a_result_is_refused_by_name(
    service: tuple[TestClient, dict[str, str], Path], record: ResultRecord
) -> None:
    client, tokens, _ = service
    data = record.model_dump(mode="json") | {"sneaky": 1}
    answer = client.post("/api/results", json=data, headers=auth(tokens["agent"]))
    assert answer.status_code == 422
    assert "sneaky" in answer.json()["detail"]


def test_an_admin_makes_tokens_and_a_bound_role_needs_a_known_target(
    service: tuple[TestClient, dict[str, str], Path],
) -> None:
    client, tokens, _ = service
    made = client.post("/api/tokens", json={"role": "reader", "name": "ci"}, headers=auth(tokens["admin"]))
    assert made.status_code == 201
    assert client.get("/api/whoami", headers=auth(made.json()["token"])).json()["role"] == "reader"
    unbound = client.post("/api/tokens", json={"role": "agent", "name": "x"}, headers=auth(tokens["admin"]))
    assert unbound.status_code == 400 and "needs --target" in unbound.json()["detail"]
    unknown = client.post(
        "/api/tokens", json={"role": "agent", "name": "x", "target": "mars"}, headers=auth(tokens["admin"])
    )
    assert unknown.status_code == 404 and "mars" in unknown.json()["detail"]
    odd = client.post("/api/tokens", json={"role": "emperor", "name": "x"}, headers=auth(tokens["admin"]))
    assert odd.status_code == 422 and "role" in odd.json()["detail"]


def test_a_board_owner_manages_the_agent_tokens_of_its_own_board_only(
    service: tuple[TestClient, dict[str, str], Path],
) -> None:
    client, tokens, _ = service
    owner = auth(tokens["owner"])
    made = client.post("/api/tokens", json={"role": "agent", "name": "pi-2"}, headers=owner)
    assert made.status_code == 201 and made.json()["target"] == "bench-1"
    assert client.get("/api/whoami", headers=auth(made.json()["token"])).json()["target"] == "bench-1"
    for body in ({"role": "admin", "name": "x"}, {"role": "agent", "name": "x", "target": "bench-2"}):
        refused = client.post("/api/tokens", json=body, headers=owner)
        assert refused.status_code == 403 and "its own board `bench-1` only" in refused.json()["detail"]
    listed = client.get("/api/tokens", headers=owner).json()
    assert {t["name"] for t in listed} == {"a1", "o1", "pi-2"} and all("token" not in t for t in listed)
    assert len(client.get("/api/tokens", headers=auth(tokens["admin"])).json()) == 7
    other = next(t for t in client.get("/api/tokens", headers=auth(tokens["admin"])).json() if t["name"] == "a2")
    refused = client.delete(f"/api/tokens/{other['id']}", headers=owner)
    assert refused.status_code == 403
    assert client.get("/api/whoami", headers=auth(tokens["other-agent"])).status_code == 200
    revoked = client.delete(f"/api/tokens/{made.json()['id']}", headers=owner)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert client.get("/api/whoami", headers=auth(made.json()["token"])).status_code == 401
    assert client.delete(f"/api/tokens/{made.json()['id']}", headers=owner).status_code == 404
    assert client.delete(f"/api/tokens/{other['id']}", headers=auth(tokens["admin"])).status_code == 200
    assert client.get("/api/whoami", headers=auth(tokens["other-agent"])).status_code == 401


def test_tokens_are_made_and_revoked_from_the_command_line(cli: Run, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    status, out, err = cli("token", "create", "--role", "reader", "--name", "ci", "--db", db)
    assert status == 0 and out.strip().startswith("dbt_") and "token 1 (reader)" in err
    with ResultStore.open(db) as store:
        assert find_token(store, out.strip()) is not None
    status, _, err = cli("token", "create", "--role", "agent", "--name", "pi", "--db", db)
    assert status == 2 and "needs --target" in err
    assert cli("token", "revoke", "1", "--db", db)[0] == 0
    with ResultStore.open(db) as store:
        assert find_token(store, out.strip()) is None
    status, _, err = cli("token", "revoke", "1", "--db", db)
    assert status == 2 and "no live token 1" in err
