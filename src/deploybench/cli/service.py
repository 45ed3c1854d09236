"""`deploybench serve` and `deploybench token create|revoke`: the lab's REST service and its API tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploybench.cli.output import note, print_text
from deploybench.cli.values import Database
from deploybench.core.errors import ConfigurationError, NotFoundError
from deploybench.store import ResultStore
from deploybench.store.tokens import Role, create_token, revoke_token

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


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="reader, submitter, owner, agent or admin.")],
    name: Annotated[str, typer.Option(help="Who or what holds it.")],
    target: Annotated[str | None, typer.Option(help="The target an agent or owner token acts for.")] = None,
    db: Database = None,
) -> None:
    """Make a token and print its secret (shown this once; only its digest is kept)."""
    with ResultStore.open(db) as store:
        token, secret = create_token(store, role, name, target)
    note(f"token {token.id} ({token.role.value}{f' of {token.target}' if token.target else ''}) for {name}")
    print_text(secret)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="Id of the token.")], db: Database = None) -> None:
    """Revoke a token: the service refuses it from now on."""
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
