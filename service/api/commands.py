"""Command-line side of the API: ``screening serve`` and ``screening keys create|list|revoke``.

Register them on the main Typer app with ``register(app)``. Settings come from the environment
(``SCREENING_*``), read once here at the edge.
"""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
import uvicorn

from service.api.app import create_app, ensure_first_key
from service.api.logs import logging_config
from service.api.packs import LoadedPack, load_configured_pack
from service.api.workers import APP_FACTORY, ReusePortSupervisor, reuse_port_balancing
from service.errors import NotFoundError, PackError, StoreError
from service.settings import Settings
from service.store import ApiKey, ApiKeyRepository, Role, open_database

log = logging.getLogger(__name__)

keys_app = typer.Typer(help="Manage API keys (stored hashed; a key is shown only when created).",
                       no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each loads the pack).")] = 1,
) -> None:
    """Run the HTTP screening API (FastAPI on uvicorn)."""
    settings = Settings()
    config = logging_config(settings.log_level)
    logging.config.dictConfig(config)
    url = settings.resolved_database_url()
    # Migrate, hand out the first key and check the pack once, here, before any worker starts: workers
    # then find the store ready and never race for the first key.
    try:
        database = open_database(url)
        try:
            if settings.auth == "enabled":
                ensure_first_key(database)
        finally:
            database.dispose()
        pack = load_configured_pack(settings)
    except PackError as exc:
        raise _fail(f"the rule pack at {settings.pack_path} is invalid:\n{exc}", 2) from None
    except StoreError as exc:
        raise _fail(str(exc)) from None
    common = {"host": host, "port": port, "log_config": config, "access_log": False, "server_header": False}
    if workers == 1:
        uvicorn.run(create_app(settings, pack=LoadedPack.build(pack), freeze_gc=True), **common)  # type: ignore[arg-type]
    elif reuse_port_balancing():
        # each worker on its own socket, so keep-alive connections spread over them: see service/api/workers.py
        del pack  # the workers load their own; do not hold a copy in the supervisor
        supervisor = ReusePortSupervisor(host, port, workers,
                                         {"log_config": config, "access_log": False, "server_header": False})
        try:
            code = supervisor.run()
        except OSError as exc:
            raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        if code:
            raise _fail("a worker process failed to start (see the log above)", code)
    else:
        uvicorn.run(APP_FACTORY, factory=True, workers=workers, **common)  # type: ignore[arg-type]


@contextmanager
def _open_keys() -> Iterator[ApiKeyRepository]:
    """The key repository of the configured store; store failures end the command with a message."""
    try:
        database = open_database(Settings().resolved_database_url())
    except StoreError as exc:
        raise _fail(str(exc)) from None
    try:
        yield ApiKeyRepository(database)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    finally:
        database.dispose()


def _key_dict(key: ApiKey) -> dict[str, object]:
    return {"id": key.id, "prefix": key.prefix, "name": key.name, "role": key.role.value,
            "created_at": key.created_at.isoformat(), "created_by": key.created_by,
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


@keys_app.command("create")
def create_key(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key, e.g. 'order system (prod)'.")],
) -> None:
    """Create a key and print it once on standard output (only its hash is stored)."""
    with _open_keys() as keys:
        try:
            issued = keys.create(name, role, created_by="cli")
        except ValueError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"Created key {issued.key.id} ({issued.key.prefix}, role {issued.key.role.value}) for "
               f"{issued.key.name!r}. Store it now; it is not shown again:", err=True)
    typer.echo(issued.secret)


@keys_app.command("list")
def list_keys(
    active: Annotated[bool, typer.Option("--active", help="Only keys not revoked.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List keys: id, prefix, role, name, when and by whom created, and whether revoked."""
    with _open_keys() as repository:
        keys = repository.list(include_revoked=not active)
    if as_json:
        for key in keys:
            typer.echo(json.dumps(_key_dict(key)))
        return
    rows = [("ID", "PREFIX", "ROLE", "STATUS", "CREATED", "BY", "NAME")]
    rows += [(str(k.id), k.prefix, k.role.value,
              "revoked " + k.revoked_at.strftime("%Y-%m-%d") if k.revoked_at else "active",
              k.created_at.strftime("%Y-%m-%d %H:%M"), k.created_by, k.name) for k in keys]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[int, typer.Argument(help="Id of the key (see `keys list`).")]) -> None:
    """Revoke a key. Running servers stop accepting it within seconds; the log keeps pointing at it."""
    with _open_keys() as keys:
        try:
            key = keys.revoke(key_id)
        except NotFoundError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"Revoked key {key.id} ({key.prefix}, {key.name!r}).")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``keys`` to the main command-line app."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
