"""Click commands: serve, demo, init-db, users, devices, reset-day, openapi."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path

import click

from .config import Settings
from .domain.errors import QueueError

log = logging.getLogger(__name__)

DEMO_USERS = (
    ("admin", "admin", "admin-demo-1"),
    ("manager", "manager", "manager-demo-1"),
    ("staff", "staff", "staff-demo-1"),
)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _fail(exc: QueueError) -> None:
    click.echo(f"error [{exc.code}]: {exc.message}", err=True)
    sys.exit(2)


def _context(settings: Settings):  # type: ignore[no-untyped-def]
    """A HallContext without the web server (for commands that only touch the database)."""
    from .persistence.engine import Database
    from .services.context import HallContext
    from .site import load_site

    return HallContext(site=load_site(settings.site_file), db=Database(settings.database_url))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(verbose: bool) -> None:
    """Outpatient Hall queue server.

    Configuration comes from QUEUE_DATABASE_URL, QUEUE_REDIS_URL, QUEUE_SITE_FILE,
    QUEUE_SECRET_KEY and QUEUE_INSTANCE_DIR (see README).
    """
    _setup_logging(verbose)


@cli.command("init-db")
def init_db() -> None:
    """Create or migrate the database schema (Alembic)."""
    from .persistence.engine import make_engine
    from .persistence.migrate import upgrade

    settings = Settings.from_env()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    click.echo(f"database ready: {engine.url.render_as_string(hide_password=True)}")


def _check_schema(settings: Settings) -> None:
    from .persistence.engine import make_engine
    from .persistence.migrate import is_current

    engine = make_engine(settings.database_url)
    try:
        if not is_current(engine):
            click.echo(
                "error: the database schema is missing or old; run `queue-server init-db`", err=True
            )
            sys.exit(2)
    finally:
        engine.dispose()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--access-log", is_flag=True, help="Log every HTTP request.")
@click.option(
    "--mode",
    type=click.Choice(["gevent", "threading"]),
    default="gevent",
    show_default=True,
    help="gevent (production) or Werkzeug threads (kept only for the benchmark comparison).",
)
@click.option(
    "--no-nodelay",
    is_flag=True,
    help="Leave Nagle's algorithm on (no TCP_NODELAY); only for the benchmark comparison.",
)
def serve(host: str, port: int, access_log: bool, mode: str, no_nodelay: bool) -> None:
    """Production server for the configured site (run init-db first)."""
    from . import create_app
    from .server import serve as run
    from .server import serve_threaded

    settings = Settings.from_env()
    _check_schema(settings)
    try:
        app = create_app(settings, async_mode=mode)
    except QueueError as exc:
        _fail(exc)
    if mode == "threading":
        serve_threaded(app, host, port, access_log, nodelay=not no_nodelay)
    else:
        run(app, host, port, access_log, nodelay=not no_nodelay)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    """Start the demo hall on one machine (SQLite, virtual printers) and print URLs and logins."""

    from . import create_app, hall_of
    from .persistence.engine import make_engine
    from .persistence.migrate import upgrade
    from .server import serve as run
    from .services import accounts, actions

    os.environ.setdefault("QUEUE_INSTANCE_DIR", str(Path.cwd() / "instance" / "demo"))
    settings = Settings.from_env()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    app = create_app(settings)
    ctx = hall_of(app)
    for username, role, password in DEMO_USERS:
        with contextlib.suppress(QueueError):  # already there from an earlier demo run
            accounts.add_user(ctx, username, role, password)
    tokens = {}
    for kind, ids in (("kiosk", ctx.site.kiosks), ("display", ctx.site.displays)):
        for device_id in ids:
            tokens[device_id] = (kind, accounts.add_device(ctx, kind, device_id))
    for counter_id in ctx.site.counters:
        actions.set_counter_state(ctx, counter_id, "open", "system:demo")
    base = f"http://{host}:{port}"
    lines = [
        "",
        f"Outpatient Hall demo: {ctx.site.name_zh}",
        f"  hall index      {base}/",
        f"  API             {base}/api/v1/services",
        f"  OpenAPI         {base}/api/v1/openapi.json",
        f"  database        {settings.database_url}",
        "  logins (POST /api/v1/auth/login):",
        *(f"    {u:<8} {p:<16} role {r}" for u, r, p in DEMO_USERS),
        "  device tokens (Authorization: Bearer …, Socket.IO auth {token}); new on every start:",
        *(f"    {kind:<8} {did:<12} {tok}" for did, (kind, tok) in tokens.items()),
        "  every counter is open; Ctrl-C stops.",
        "",
    ]
    click.echo("\n".join(lines))
    run(app, host, port)


@cli.group()
def users() -> None:
    """Staff, manager and admin accounts."""


@users.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["staff", "manager", "admin"]))
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
def users_add(username: str, role: str, password_stdin: bool) -> None:
    """Add a user; the password is read from standard input."""
    from .services import accounts

    password = sys.stdin.readline().rstrip("\n")
    try:
        user_id = accounts.add_user(_context(Settings.from_env()), username, role, password)
    except QueueError as exc:
        _fail(exc)
    click.echo(json.dumps({"id": user_id, "username": username, "role": role}))


@cli.group()
def devices() -> None:
    """Kiosks, screens and print agents."""


@devices.command("add")
@click.option("--kind", required=True, type=click.Choice(["kiosk", "display", "agent"]))
@click.option("--id", "device_id", required=True)
def devices_add(kind: str, device_id: str) -> None:
    """Register a device and print its token (shown this once; stored only as a hash)."""
    from .services import accounts

    try:
        token = accounts.add_device(_context(Settings.from_env()), kind, device_id)
    except QueueError as exc:
        _fail(exc)
    click.echo(json.dumps({"id": device_id, "kind": kind, "token": token}))


@cli.command("reset-day")
def reset_day_cmd() -> None:
    """Move tickets of earlier business days to history now (the server does it each minute)."""
    from .services.day_reset import reset_day

    click.echo(json.dumps({"moved": reset_day(_context(Settings.from_env()))}))


@cli.command("check-site")
@click.argument("path", required=False)
def check_site(path: str | None) -> None:
    """Validate a site file (default: QUEUE_SITE_FILE or the demo hall)."""
    from .site import load_site

    try:
        site = load_site(path or Settings.from_env().site_file)
    except QueueError as exc:
        _fail(exc)
    click.echo(
        f"ok: {len(site.services)} services, {len(site.counters)} counters, "
        f"{len(site.displays)} screens, {len(site.kiosks)} kiosks, {len(site.printers)} printers"
    )


@cli.command()
def openapi() -> None:
    """Print the OpenAPI document."""
    from .api.openapi import document

    click.echo(json.dumps(document(), ensure_ascii=False, indent=2))
