"""`deploybench serve` and `deploybench token create|revoke`: the lab's REST service and its API tokens."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer

from deploybench.catalog.tabular import to_csv
from deploybench.cli.output import Format, note, print_table, print_text
from deploybench.cli.values import Database
from deploybench.core.errors import ConfigurationError, NotFoundError
from deploybench.store import ResultStore
from deploybench.store.tokens import Role, create_token, list_tokens, revoke_token
from deploybench.worker.lab import LabClient

TOKEN_COLUMNS = ["id", "role", "target", "name", "created_at", "revoked"]
token_app = typer.Typer(help="API tokens of the service: one role each (and a target for agents and owners).")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    artifacts: Annotated[Path, typer.Option(help="Folder of the artifact store.")] = Path(".deploybench/artifacts"),
    max_upload_mb: Annotated[int, typer.Option(help="Largest artifact accepted, MiB.", min=1)] = 512,
    broker: Annotated[
        str | None, typer.Option(help="Broker the jobs for remote targets go through, e.g. amqp://guest@localhost//.")
    ] = None,
    db: Database = None,
) -> None:
    """Serve the catalogs, results, artifacts, tokens, dispatches and agents over HTTP (OpenAPI schema at
    /openapi.json)."""
    try:
        import uvicorn

        from deploybench.service.app import ServiceConfig, create_app
    except ImportError as exc:
        raise ConfigurationError(
            f"the service needs {exc.name}, which is not installed", hint="pip install 'deploybench[service]'"
        ) from exc
    app = create_app(ServiceConfig(db=db, artifacts=artifacts, max_upload_bytes=max_upload_mb * 2**20, broker=broker))
    uvicorn.run(app, host=host, port=port, log_level="warning")


Service = Annotated[
    str | None, typer.Option(help="Manage the tokens of this lab service instead of a database (with --auth).")
]
Auth = Annotated[
    str | None, typer.Option(envvar="DEPLOYBENCH_TOKEN", help="An admin or board-owner token, for --service.")
]


def _lab(service: str, auth: str | None) -> LabClient:
    if auth is None:
        raise ConfigurationError("--service needs --auth", hint="an admin token, or a board owner's token")
    return LabClient(service, auth)


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="reader, submitter, owner, agent or admin.")],
    name: Annotated[str, typer.Option(help="Who or what holds it.")],
    target: Annotated[str | None, typer.Option(help="The target an agent or owner token acts for.")] = None,
    service: Service = None,
    auth: Auth = None,
    db: Database = None,
) -> None:
    """Make a token and print its secret (shown this once; only its digest is kept): in a database, or through
    the service (a board owner makes its own board's agent tokens)."""
    if service is not None:
        with contextlib.closing(_lab(service, auth)) as client:
            made = client.make_token(role.value, name, target)
        token_id, target, secret = made["id"], made["target"], made["token"]
    else:
        with ResultStore.open(db) as store:
            token, secret = create_token(store, role, name, target)
        token_id, target = token.id, token.target
    note(f"token {token_id} ({role.value}{f' of {target}' if target else ''}) for {name}")
    print_text(secret)


@token_app.command("list")
def token_list(
    service: Service = None,
    auth: Auth = None,
    db: Database = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = Format.TABLE,
) -> None:
    """The tokens (never their secrets): all of a database, or those the --auth token manages."""
    if service is not None:
        with contextlib.closing(_lab(service, auth)) as client:
            rows = client.tokens()
    else:
        with ResultStore.open(db) as store:
            rows = [listing.public() for listing in list_tokens(store)]
    if fmt is Format.JSON:
        print_text(json.dumps(rows, indent=2))
        return
    text = [{column: "" if row[column] is None else str(row[column]) for column in TOKEN_COLUMNS} for row in rows]
    if fmt is Format.CSV:
        print_text(to_csv(text, TOKEN_COLUMNS))
    else:
        print_table(f"{len(rows)} token(s)", TOKEN_COLUMNS, text)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Id of the token.")],
    service: Service = None,
    auth: Auth = None,
    db: Database = None,
) -> None:
    """Revoke a token: the service refuses it from now on."""
    if service is not None:
        with contextlib.closing(_lab(service, auth)) as client:
            client.revoke_token(token_id)
    else:
        with ResultStore.open(db) as store:
            if not revoke_token(store, token_id):
                raise NotFoundError(f"no live token {token_id}")
    note(f"token {token_id} revoked")


def agent(
    target: Annotated[str, typer.Option(help="The catalog target this board is.")],
    broker: Annotated[str, typer.Option(help="Broker URL, e.g. amqp://guest@lab-server//.")],
    service: Annotated[str, typer.Option(help="URL of the lab's service, e.g. http://lab-server:8000.")],
    token: Annotated[str, typer.Option(envvar="DEPLOYBENCH_TOKEN", help="This agent's token (or $DEPLOYBENCH_TOKEN).")],
    name: Annotated[str | None, typer.Option(help="Name of this agent (default: target@hostname).")] = None,
    cache: Annotated[Path, typer.Option(help="Folder of fetched models.")] = Path(".deploybench/agent-cache"),
) -> None:
    """Serve the target's queue on this board: one measurement at a time, results sent to the service."""
    try:
        from deploybench.agent.runner import AgentConfig, run_agent
    except ImportError as exc:
        raise ConfigurationError(
            f"the agent needs {exc.name}, which is not installed", hint="pip install 'deploybench[service]'"
        ) from exc
    import socket

    run_agent(AgentConfig(target, broker, service, token, name or f"{target}@{socket.gethostname()}", cache))
