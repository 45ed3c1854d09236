"""The FastAPI application: routes over the catalogs, the results store, the artifact store and the tokens;
every error a one-line `detail` with the right status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from deploybench import __version__
from deploybench.catalog import Catalog, load_catalog
from deploybench.catalog.local import detect_local_machine
from deploybench.core.errors import ConfigurationError, DeploybenchError, NotFoundError, StoreError
from deploybench.core.records import JobSpec, ResultRecord, Status
from deploybench.select.fit import framework_units, observations_from, stored_peaks
from deploybench.select.targets import known_targets
from deploybench.select.validate import Check, Summary, validate
from deploybench.service.auth import Agent, Manager, Reader, Submitter, Uploader, store_of
from deploybench.service.dashboard import dashboard_routes
from deploybench.store import ResultStore
from deploybench.store.artifacts import ArtifactRejected, ArtifactStore
from deploybench.store.dispatch import (
    Dispatch,
    agents,
    complete,
    create_dispatch,
    get_dispatch,
    heartbeat,
    list_dispatches,
    start_attempt,
    withdraw,
)
from deploybench.store.tokens import Role, Token, create_token, list_tokens, revoke_token, token_by_id
from deploybench.worker.queue import BrokerUnavailable, publish

Kind = Literal["targets", "frameworks", "models"]


@dataclass(frozen=True)
class ServiceConfig:
    """Where the service keeps things, and its limits."""

    db: str | None
    artifacts: Path
    max_upload_bytes: int = 512 * 2**20
    broker: str | None = None


class TokenRequest(BaseModel):
    """A token to make."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(min_length=1, max_length=200)
    target: str | None = Field(default=None, description="The target an agent or owner token acts for.")


class DispatchRequest(BaseModel):
    """A job to run on a remote target."""

    model_config = ConfigDict(extra="forbid")

    job: JobSpec
    target: str = Field(min_length=1)
    campaign: str | None = None
    retry_failed: bool = Field(default=False, description="Queue the job again when its last dispatch failed.")


class Heartbeat(BaseModel):
    """What an agent reports about itself."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    fingerprint: str
    backends: dict[str, str | None] = Field(description="Backend name -> version, for those available.")
    formats: dict[str, list[str]] = Field(default_factory=dict, description="Backend name -> model formats it takes.")
    settings: dict[str, list[str]] = Field(default_factory=dict, description="Backend name -> settings it takes.")
    toolchains: tuple[str, ...] = Field(default=(), description="Toolchain environments that host some of them.")


def create_app(config: ServiceConfig, catalog: Catalog | None = None) -> FastAPI:
    """The service over the store at `config.db` and the artifacts under `config.artifacts`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = ResultStore.open(config.db)
        app.state.catalog = catalog or load_catalog()
        app.state.artifacts = ArtifactStore(config.artifacts)
        app.state.validation = lambda: cross_check(app.state.store, app.state.catalog)
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(title="deploybench", version=__version__, lifespan=lifespan)
    _errors(app)
    _routes(app, config)
    _lab_routes(app, config)
    dashboard_routes(app)
    return app


def cross_check(store: ResultStore, catalog: Catalog) -> tuple[list[Check], list[Summary]]:
    """The performance models against every stored measurement (leave one model out), on the last fit."""
    machine = detect_local_machine()
    peaks = stored_peaks(store, machine)
    if peaks is None:
        raise NotFoundError("no performance model fitted yet", hint="run `deploybench predict fit` on the store")
    targets = known_targets(catalog, machine, peaks)
    observations, _, _ = observations_from(store, targets, {})
    return validate(observations, targets, framework_units(catalog))


def _errors(app: FastAPI) -> None:
    """Every error as one line: the field and what is wrong, or deploybench's own message."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more)" if more else ""
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}{suffix}"}, status_code=422)

    @app.exception_handler(DeploybenchError)
    async def refused(_: Request, exc: DeploybenchError) -> JSONResponse:
        status = (
            exc.status
            if isinstance(exc, ArtifactRejected)
            else 404
            if isinstance(exc, NotFoundError)
            else 400
            if isinstance(exc, ConfigurationError)
            else 503
            if isinstance(exc, StoreError)
            else 500
        )
        return JSONResponse({"detail": str(exc)}, status_code=status)


def _routes(app: FastAPI, config: ServiceConfig) -> None:
    """Bind every route."""

    @app.get("/api/health")
    def health() -> dict[str, str]:
        """Whether the service is up, and its version."""
        return {"status": "ok", "version": __version__}

    @app.get("/api/whoami")
    def whoami(token: Reader) -> dict[str, Any]:
        """The role (and target) of the token presented."""
        return {"name": token.name, "role": token.role.value, "target": token.target}

    @app.get("/api/catalog/{kind}")
    def catalog_list(kind: Kind, request: Request, _: Reader) -> list[dict[str, Any]]:
        """Every entry of one catalog."""
        entries = request.app.state.catalog.entries(kind)
        return [entry.model_dump(mode="json") for entry in entries]

    @app.get("/api/catalog/{kind}/{name}")
    def catalog_entry(kind: Kind, name: str, request: Request, _: Reader) -> dict[str, Any]:
        """One catalog entry, by name or alias."""
        _, entry = request.app.state.catalog.find(name, [kind])
        return dict(entry.model_dump(mode="json"))

    @app.get("/api/results")
    def results_list(
        request: Request,
        _: Reader,
        campaign: str | None = None,
        framework: str | None = None,
        status: Status | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        """The newest results' listing columns, filtered."""
        rows = store_of(request).rows(campaign=campaign, framework=framework, status=status, limit=limit)
        return [{**row.__dict__, "status": row.status.value, "created_at": row.created_at.isoformat()} for row in rows]

    @app.get("/api/results/{result_id}")
    def results_get(result_id: int, request: Request, _: Reader) -> dict[str, Any]:
        """One whole result record."""
        return dict(store_of(request).get(result_id).model_dump(mode="json"))

    @app.post("/api/results", status_code=201)
    def results_post(
        record: ResultRecord,
        request: Request,
        token: Agent,
        campaign: str | None = None,
    ) -> JSONResponse:
        """Store a result an agent measured on its own target (the same measurement posted again is not stored
        twice: it answers 200 with the first id)."""
        _measured_on(request, token, record)
        assert record.provenance is not None
        store = store_of(request)
        for result_id in store.ids_of(record.job_key):
            stored = store.get(result_id)
            if stored.provenance is not None and stored.provenance.started_at == record.provenance.started_at:
                return JSONResponse({"id": result_id, "stored": False}, status_code=200)
        return JSONResponse({"id": store.save(record, campaign), "stored": True}, status_code=201)

    @app.put("/api/artifacts/{sha256}")
    async def artifacts_put(sha256: str, request: Request, _: Uploader) -> JSONResponse:
        """Upload an artifact under its SHA-256 (checked as it arrives; oversize: 413, mismatch: 422)."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > config.max_upload_bytes:
            raise ArtifactRejected(f"artifact {sha256} is larger than the {config.max_upload_bytes} bytes allowed", 413)
        upload = request.app.state.artifacts.upload(sha256, config.max_upload_bytes)
        try:
            async for chunk in request.stream():
                upload.write(chunk)
        except BaseException:
            upload.discard()
            raise
        new = upload.finish()
        return JSONResponse({"sha256": sha256, "size": upload.size, "stored": new}, status_code=201 if new else 200)

    @app.get("/api/artifacts/{sha256}")
    def artifacts_get(sha256: str, request: Request, _: Reader) -> FileResponse:
        """Download an artifact by its SHA-256."""
        path = request.app.state.artifacts.path(sha256)
        if not path.is_file():
            raise NotFoundError(f"no artifact {sha256}", hint="upload it first: PUT /api/artifacts/SHA256")
        return FileResponse(path, media_type="application/octet-stream")

    @app.post("/api/tokens", status_code=201)
    def tokens_post(body: TokenRequest, request: Request, token: Manager) -> dict[str, Any]:
        """Make a token (an admin: any; a board owner: agent tokens of its own board); its secret is in this
        answer and nowhere else."""
        target = body.target
        if token.role is Role.OWNER:
            if body.role is not Role.AGENT or body.target not in (None, token.target):
                raise HTTPException(403, f"a board owner makes agent tokens of its own board `{token.target}` only")
            target = token.target
        if target is not None and target not in request.app.state.catalog.targets:
            raise NotFoundError(f"no target `{target}` in the catalog")
        made, secret = create_token(store_of(request), body.role, body.name, target)
        return {"id": made.id, "role": made.role.value, "target": made.target, "token": secret}

    @app.get("/api/tokens")
    def tokens_list(request: Request, token: Manager) -> list[dict[str, Any]]:
        """The tokens an admin manages (all) or a board owner (its board's), without their secrets."""
        target = token.target if token.role is Role.OWNER else None
        return [listing.public() for listing in list_tokens(store_of(request), target)]

    @app.delete("/api/tokens/{token_id}")
    def tokens_delete(token_id: int, request: Request, token: Manager) -> dict[str, Any]:
        """Revoke a token (an admin: any; a board owner: its board's agent tokens); refused from then on."""
        store = store_of(request)
        listing = token_by_id(store, token_id)
        if listing is None or listing.revoked:
            raise NotFoundError(f"no live token {token_id}")
        if token.role is Role.OWNER and (listing.role is not Role.AGENT or listing.target != token.target):
            raise HTTPException(403, f"a board owner revokes agent tokens of its own board `{token.target}` only")
        revoke_token(store, token_id)
        return {**listing.public(), "revoked": True}


def _lab_routes(app: FastAPI, config: ServiceConfig) -> None:
    """Dispatches to remote targets and their agents."""

    def own(token: Token, dispatch: Dispatch) -> None:
        if dispatch.target != token.target:
            raise HTTPException(403, f"dispatch {dispatch.id} is for target `{dispatch.target}`, not `{token.target}`")

    @app.post("/api/dispatches", status_code=201)
    def dispatches_post(body: DispatchRequest, request: Request, _: Submitter) -> JSONResponse:
        """Queue a job on a remote target (its model, and its data file if any, must be in the artifact store);
        the same job sent again to the same target answers its dispatch (200) instead of queueing it twice."""
        if config.broker is None:
            raise HTTPException(503, "this service has no broker: start it with --broker URL")
        if body.target not in request.app.state.catalog.targets:
            raise NotFoundError(f"no target `{body.target}` in the catalog")
        needed = {"model": body.job.model.sha256, "data": body.job.data.sha256}
        if body.job.data.source == "npz" and body.job.data.sha256 is None:
            raise HTTPException(422, "job.data.sha256: an npz data file travels as an artifact: give its SHA-256")
        for what, sha256 in needed.items():
            if sha256 is not None and not request.app.state.artifacts.has(sha256):
                raise HTTPException(
                    409, f"{what} {sha256} is not in the artifact store: upload it first (PUT /api/artifacts)"
                )
        store = store_of(request)
        dispatch, new = create_dispatch(store, body.job, body.target, body.campaign, body.retry_failed)
        if new:
            try:
                publish(config.broker, dispatch.id, body.target)
            except BrokerUnavailable as exc:
                withdraw(store, dispatch.id)
                raise HTTPException(503, f"{exc}: nothing was queued, send it again") from exc
        return JSONResponse({**dispatch.public(), "new": new}, status_code=201 if new else 200)

    @app.get("/api/dispatches")
    def dispatches_list(
        request: Request, _: Reader, target: str | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        """Dispatches, newest first."""
        return [d.public() for d in list_dispatches(store_of(request), target, state)]

    @app.get("/api/dispatches/{dispatch_id}")
    def dispatches_get(dispatch_id: str, request: Request, token: Reader) -> dict[str, Any]:
        """One dispatch; its job too for the agents of its target."""
        dispatch = get_dispatch(store_of(request), dispatch_id)
        answer = dispatch.public()
        if token.target == dispatch.target:
            answer["job"] = dispatch.job.model_dump(mode="json")
        return answer

    @app.post("/api/dispatches/{dispatch_id}/start")
    def dispatches_start(dispatch_id: str, request: Request, token: Agent) -> dict[str, Any]:
        """An agent of the target took the job: one more attempt (running, with the job to run), or failed past
        the limit."""
        store = store_of(request)
        own(token, get_dispatch(store, dispatch_id))
        started = start_attempt(store, dispatch_id)
        return {**started.public(), "job": started.job.model_dump(mode="json")}

    @app.post("/api/dispatches/{dispatch_id}/result")
    def dispatches_result(dispatch_id: str, record: ResultRecord, request: Request, token: Agent) -> JSONResponse:
        """The job's result, measured on the target; stored once, whatever the redeliveries."""
        store = store_of(request)
        dispatch = get_dispatch(store, dispatch_id)
        own(token, dispatch)
        _measured_on(request, token, record)
        if record.job.model.sha256 != dispatch.job.model.sha256 or record.job.framework != dispatch.job.framework:
            raise HTTPException(422, f"this result is not of dispatch {dispatch_id}'s job (model or framework differs)")
        done, stored = complete(store, dispatch_id, record)
        return JSONResponse({**done.public(), "stored": stored}, status_code=201 if stored else 200)

    @app.post("/api/agents/heartbeat")
    def agents_heartbeat(body: Heartbeat, request: Request, token: Agent) -> dict[str, str]:
        """An agent is alive, with what it has."""
        heartbeat(store_of(request), body.name, token.target or "", body.model_dump(mode="json"))
        return {"status": "ok"}

    @app.get("/api/agents")
    def agents_list(request: Request, _: Reader) -> list[dict[str, Any]]:
        """Every agent, online or not (offline when silent for 30 s)."""
        return [
            {"name": a.name, "target": a.target, "online": a.online, "last_seen": a.last_seen.isoformat(), **a.report}
            for a in agents(store_of(request))
        ]


def _measured_on(request: Request, token: Token, record: ResultRecord) -> None:
    """Refuse a result whose machine is not the agent's target (by hardware fingerprint)."""
    target = request.app.state.catalog.targets.get(token.target)
    if target is None or target.fingerprint is None:
        raise HTTPException(403, f"target `{token.target}` has no hardware fingerprint in the catalog")
    if record.provenance is None or record.provenance.machine_fingerprint != target.fingerprint:
        raise HTTPException(403, f"this result was not measured on target `{token.target}` (fingerprint differs)")
