"""The dashboard: web pages served by the service (no script: forms, links and a refreshing overview) over
the catalogs and support matrix, the agents and the jobs they take, campaign progress, results with filters,
A against B, one model's deployments and their Pareto front, and predicted against measured. The browser holds
its API token in a cookie."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Cookie, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from deploybench.core.errors import DeploybenchError
from deploybench.core.records import ModelRef, ResultRecord, Status
from deploybench.report.compare import compare, comparison_rows
from deploybench.report.deployments import COLUMNS as DEPLOYMENT_COLUMNS
from deploybench.report.deployments import deployment_rows, deployments, plot_deployments
from deploybench.report.selection import SUMMARY_COLUMNS, plot_validation, summary_row
from deploybench.report.tables import SUMMARY_COLUMNS as RESULT_COLUMNS
from deploybench.report.tables import summary_rows
from deploybench.service.auth import store_of
from deploybench.store import ResultStore
from deploybench.store.dispatch import agents, list_dispatches
from deploybench.store.tokens import Token, find_token

COOKIE = "deploybench_token"
REFRESH_S = 5
TEMPLATES = Environment(loader=PackageLoader("deploybench.service", "templates"), autoescape=select_autoescape())
TARGET_COLUMNS = ["name", "board", "country", "price USD", "power W", "memory GB", "units"]
FRAMEWORK_COLUMNS = ["name", "provider", "open source", "units", "optimizations", "targets"]
MODEL_COLUMNS = ["model", "sha256", "OK results", "frameworks"]


@dataclass(frozen=True)
class StoredModel:
    """A model with stored OK results, and which of them deploy it (its own or an artifact optimized from it)."""

    ref: ModelRef
    result_ids: tuple[int, ...]
    frameworks: tuple[str, ...]

    @property
    def name(self) -> str:
        """The model's file name."""
        return Path(self.ref.path).name


def page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A rendered page."""
    return HTMLResponse(TEMPLATES.get_template(template).render(**values), status_code=status)


def dashboard_routes(app: FastAPI) -> None:
    """Bind the dashboard's pages."""

    def who(request: Request, token: str | None) -> Token | None:
        return find_token(store_of(request), token) if token else None

    def login_first() -> RedirectResponse:
        return RedirectResponse("/dashboard/login", status_code=303)

    @app.get("/dashboard/login", response_class=HTMLResponse)
    def login_form() -> HTMLResponse:
        """The token form."""
        return page("login.html", title="Log in")

    @app.post("/dashboard/login")
    def login(request: Request, token: Annotated[str, Form()]) -> Response:
        """Check the token, keep it in a cookie, go to the overview."""
        if who(request, token) is None:
            return page("login.html", status=401, title="Log in", error="unknown or revoked API token")
        answer = RedirectResponse("/dashboard", status_code=303)
        answer.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return answer

    @app.get("/dashboard/logout")
    def logout() -> RedirectResponse:
        """Forget the token."""
        answer = login_first()
        answer.delete_cookie(COOKIE)
        return answer

    @app.get("/dashboard", response_class=HTMLResponse)
    def overview(request: Request, deploybench_token: Annotated[str | None, Cookie()] = None) -> Response:
        """Agents online or not, jobs by target and state, campaign progress."""
        token = who(request, deploybench_token)
        if token is None:
            return login_first()
        store = store_of(request)
        live = agents(store)
        dispatches = list_dispatches(store)
        return page(
            "lab.html",
            title="Lab",
            refresh=REFRESH_S,
            who=token,
            agents=[
                {
                    "agent": a.name,
                    "target": a.target,
                    "state": "online" if a.online else "offline",
                    "_class_state": "online" if a.online else "offline",
                    "last seen": a.last_seen.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    "backends": ", ".join(sorted(a.report.get("backends", {}))),
                    "toolchains": ", ".join(a.report.get("toolchains", [])) or "main only",
                }
                for a in live
            ],
            targets=_targets(dispatches, {a.target for a in live if a.online}),
            campaigns=_campaigns(dispatches),
        )

    @app.get("/dashboard/catalog", response_class=HTMLResponse)
    def catalog(request: Request, deploybench_token: Annotated[str | None, Cookie()] = None) -> Response:
        """Targets, frameworks, and which framework deploys to which target."""
        if who(request, deploybench_token) is None:
            return login_first()
        entries = request.app.state.catalog
        targets = sorted(entries.targets.values(), key=lambda t: t.name)
        frameworks = sorted(entries.frameworks.values(), key=lambda f: f.name)
        return page(
            "catalog.html",
            title="Catalogs",
            target_columns=TARGET_COLUMNS,
            targets=[_target_row(t) for t in targets],
            framework_columns=FRAMEWORK_COLUMNS,
            frameworks=[_framework_row(f) for f in frameworks],
            matrix_columns=["framework", *[t.name for t in targets]],
            matrix=[
                {"framework": f.name, **{t.name: "yes" for t in targets if t.name in f.targets}} for f in frameworks
            ],
        )

    @app.get("/dashboard/results", response_class=HTMLResponse)
    def results(
        request: Request,
        framework: str | None = None,
        campaign: str | None = None,
        status: str | None = None,
        deploybench_token: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        """The newest results, filtered."""
        if who(request, deploybench_token) is None:
            return login_first()
        store = store_of(request)
        chosen = Status(status) if status in ("ok", "failed") else None
        rows = store.rows(campaign=campaign or None, framework=framework or None, status=chosen, limit=200)
        listed = summary_rows([(row.id, store.get(row.id)) for row in rows])
        filters = {"framework": framework, "campaign": campaign, "status": status}
        return page("results.html", title="Results", columns=RESULT_COLUMNS, rows=listed, filters=filters)

    @app.get("/dashboard/compare", response_class=HTMLResponse)
    def compare_page(
        request: Request, a: int, b: int, deploybench_token: Annotated[str | None, Cookie()] = None
    ) -> Response:
        """B against A: ratio of medians with its interval, and the test."""
        if who(request, deploybench_token) is None:
            return login_first()
        store = store_of(request)
        rows = comparison_rows(compare(store.get(a), store.get(b)))
        return page("compare.html", title=f"Result {b} against result {a}", columns=list(rows[0]), rows=rows)

    @app.get("/dashboard/pareto", response_class=HTMLResponse)
    def pareto(
        request: Request,
        model: str | None = None,
        campaign: str | None = None,
        deploybench_token: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        """The models with OK results to pick from; for the one chosen (by hash, hash prefix or file name), every
        stored OK deployment of it with the Pareto front marked, and the front plotted."""
        if who(request, deploybench_token) is None:
            return login_first()
        store = store_of(request)
        models = _stored_models(store, campaign or None)
        values: dict[str, Any] = {
            "models": models,
            "campaign": campaign,
            "model_columns": MODEL_COLUMNS,
            "model_rows": [_model_row(m) for m in models],
        }
        if not models:
            empty = "No OK result stored" + (f" in campaign `{campaign}`." if campaign else " yet.")
            return page("pareto.html", title="Pareto front", note=empty, **values)
        if not model:
            return page("pareto.html", title="Pareto front", note="Pick a model.", **values)
        matches = _matching(models, model)
        if len(matches) != 1:
            note = (
                f"`{model}` names {len(matches)} different models: pick one by its hash."
                if matches
                else f"No stored OK result of a model `{model}`" + (f" in campaign `{campaign}`." if campaign else ".")
            )
            return page("pareto.html", title="Pareto front", note=note, **values)
        chosen = matches[0]
        found = deployments([(i, store.get(i)) for i in chosen.result_ids])
        done = {d.result_id: d.target for d in list_dispatches(store, state="done") if d.result_id is not None}
        svg, plot_note = plot_deployments(found, chosen.name)
        return page(
            "pareto.html",
            title=f"Pareto front of {chosen.name}",
            chosen=chosen,
            columns=DEPLOYMENT_COLUMNS,
            rows=deployment_rows(found, done),
            plot=svg,
            plot_note=plot_note,
            **values,
        )

    @app.get("/dashboard/predictions", response_class=HTMLResponse)
    def predictions(request: Request, deploybench_token: Annotated[str | None, Cookie()] = None) -> Response:
        """The cross-check of the performance models, and its scatter plot."""
        if who(request, deploybench_token) is None:
            return login_first()
        try:
            checks, summaries = request.app.state.validation()
        except DeploybenchError as exc:
            return page("predictions.html", title="Predicted vs measured", rows=[], empty=str(exc))
        if not checks:
            empty = "No prediction to check yet: measure models, then run `deploybench predict fit`."
            return page("predictions.html", title="Predicted vs measured", rows=[], empty=empty)
        svg = plot_validation(checks).decode("utf-8")
        return page(
            "predictions.html",
            title="Predicted vs measured",
            columns=SUMMARY_COLUMNS,
            rows=[summary_row(s) for s in summaries],
            plot=svg[svg.index("<svg") :],
        )


def _stored_models(store: ResultStore, campaign: str | None) -> list[StoredModel]:
    """The models with OK results (in the campaign, when given), by name: an optimized artifact's results count
    as its source model's, read from the newest result of each artifact."""
    by_artifact: dict[str, list[Any]] = {}
    for row in store.rows(campaign=campaign, status=Status.OK):
        by_artifact.setdefault(row.model_sha256, []).append(row)
    grouped: dict[str, tuple[ModelRef, list[Any]]] = {}
    for rows in by_artifact.values():
        source = _source(store.get(rows[0].id))
        grouped.setdefault(source.sha256, (source, []))[1].extend(rows)
    models = [
        StoredModel(ref, tuple(sorted(r.id for r in rows)), tuple(sorted({r.framework for r in rows})))
        for ref, rows in grouped.values()
    ]
    return sorted(models, key=lambda m: (m.name, m.ref.sha256))


def _source(record: ResultRecord) -> ModelRef:
    """The model a result deploys: the FP32 model an optimized artifact was made from, else the model itself."""
    optimization = record.job.optimization
    return optimization.source if optimization else record.job.model


def _matching(models: list[StoredModel], wanted: str) -> list[StoredModel]:
    """The models whose hash is `wanted`, else whose file name (or stem) it is, else whose hash starts with it."""
    for test in (
        lambda m: m.ref.sha256 == wanted.lower(),
        lambda m: wanted in (m.name, Path(m.name).stem),
        lambda m: m.ref.sha256.startswith(wanted.lower()),
    ):
        found = [m for m in models if test(m)]
        if found:
            return found
    return []


def _model_row(model: StoredModel) -> dict[str, str]:
    return {
        "model": model.name,
        "sha256": model.ref.sha256,
        "OK results": str(len(model.result_ids)),
        "frameworks": ", ".join(model.frameworks),
    }


def _targets(dispatches: list[Any], online: set[str]) -> list[dict[str, str]]:
    """Dispatch counts per target and state, and a note where jobs wait for an agent."""
    counts: dict[str, Counter[str]] = {}
    for d in dispatches:
        counts.setdefault(d.target, Counter())[d.state] += 1
    rows = []
    for target, states in sorted(counts.items()):
        waiting = states["queued"] and target not in online
        rows.append(
            {
                "target": target,
                **{state: str(states[state]) for state in ("queued", "running", "done", "failed")},
                "note": "waiting: no live agent" if waiting else "",
                "_class_note": "waiting" if waiting else "",
            }
        )
    return rows


def _campaigns(dispatches: list[Any]) -> list[dict[str, str]]:
    """Per campaign: done, failed, waiting, total, and progress."""
    by: dict[str, Counter[str]] = {}
    for d in dispatches:
        if d.campaign:
            by.setdefault(d.campaign, Counter())[d.state] += 1
    return [
        {
            "campaign": name,
            "done": str(states["done"]),
            "failed": str(states["failed"]),
            "waiting": str(states["queued"] + states["running"]),
            "total": str(sum(states.values())),
            "progress": f"{(states['done'] + states['failed']) / sum(states.values()):.0%}",
        }
        for name, states in sorted(by.items())
    ]


def _target_row(target: Any) -> dict[str, str]:
    return {
        "name": target.name,
        "board": target.som.name,
        "country": target.soc.manufacturer_country or "",
        "price USD": str(target.som.price_usd or ""),
        "power W": str(target.som.power_w or ""),
        "memory GB": f"{target.memory.size_gb or target.som.memory_gb or ''}",
        "units": ", ".join(u.kind.value for u in target.processing_units),
    }


def _framework_row(framework: Any) -> dict[str, str]:
    return {
        "name": framework.name,
        "provider": framework.provider or "",
        "open source": framework.open_source.value if framework.open_source else "",
        "units": ", ".join(u.value for u in framework.execution_units),
        "optimizations": ", ".join(o.value for o in framework.optimizations),
        "targets": ", ".join(framework.targets),
    }
