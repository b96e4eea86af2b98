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
    from .lab import start_background as start_lab

    start_lab(app)  # [lab]: MLLP listener (mllp_port) and readiness webhook sender
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
    try:
        app = create_app(settings)
    except QueueError as exc:  # an invalid site file (QUEUE_SITE_FILE): its lines and fields
        _fail(exc)
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
    from .lab import demo as lab_demo

    lab_samples: list[dict] = []
    if ctx.site.lab is not None:  # sample reports for the lab kiosk page, same ids all day
        try:
            lab_samples = lab_demo.seed_demo_reports(app.extensions["hall_lab"])
        except QueueError as exc:
            log.warning("demo lab reports not seeded: %s", exc.message)
    base = f"http://{host}:{port}"
    lines = [
        "",
        f"Outpatient Hall demo: {ctx.site.name_zh}",
        f"  hall index      {base}/",
        *(f"  kiosk           {base}/kiosk/{kid}" for kid in ctx.site.kiosks),
        *(f"  screen          {base}/display/{did}" for did in ctx.site.displays),
        f"  staff console   {base}/console   (nurse desk {base}/console/nurse)",
        f"  dashboard       {base}/dashboard   (public load page {base}/load)",
        f"  information     {base}/info",
        f"  API             {base}/api/v1/services",
        f"  OpenAPI         {base}/api/v1/openapi.json",
        f"  database        {settings.database_url}",
        f"  printouts       {settings.instance_dir / 'printouts'} (virtual printers' PNGs)",
        "  logins (console, dashboard; POST /api/v1/auth/login):",
        *(f"    {u:<8} {p:<16} role {r}" for u, r, p in DEMO_USERS),
        "  device tokens: paste one on a kiosk's or screen's pairing page (or approve the code it",
        "  shows from the console); API: Authorization: Bearer …; new on every start:",
        *(f"    {kind:<8} {did:<12} {tok}" for did, (kind, tok) in tokens.items()),
        *lab_demo.summary_lines(ctx.site, base, lab_samples),
        "  every counter is open; Ctrl-C stops.",
        "",
    ]
    click.echo("\n".join(lines))
    from .lab import start_background as start_lab

    start_lab(app)  # [lab]: MLLP listener (mllp_port) and readiness webhook sender
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
@click.option("--kind", required=True, type=click.Choice(["kiosk", "display", "agent", "lis"]))
@click.option("--id", "device_id", required=True)
def devices_add(kind: str, device_id: str) -> None:
    """Register a device and print its token (shown this once; stored only as a hash)."""
    from .services import accounts

    try:
        token = accounts.add_device(_context(Settings.from_env()), kind, device_id)
    except QueueError as exc:
        _fail(exc)
    click.echo(json.dumps({"id": device_id, "kind": kind, "token": token}))


@cli.group()
def printer() -> None:
    """Query and test ESC/POS printers by URL (JSON output; see docs/printing.md)."""


def _printer_base_dir() -> Path:
    """Relative virtual:// folders resolve against the instance folder, as in the server."""
    return Path(os.environ.get("QUEUE_INSTANCE_DIR", "instance"))


@printer.command("status")
@click.argument("url")
@click.option("--model", default="generic-80", show_default=True)
def printer_status(url: str, model: str) -> None:
    """Query a printer's status (exit 0 ready, 1 not ready, 2 bad URL/model)."""
    from printers import cli as printers_cli

    sys.exit(printers_cli.emit(printers_cli.printer_status(url, model, _printer_base_dir())))


@printer.command("test")
@click.argument("url")
@click.option("--model", default="generic-80", show_default=True)
@click.option("--document", default="ticket", show_default=True,
              type=click.Choice(["ticket", "test-page", "lab-slip"]))  # fmt: skip
def printer_test(url: str, model: str, document: str) -> None:
    """Print a sample number ticket (or the test page); exit 0 printed, 1 failed, 2 bad input."""
    from printers import cli as printers_cli

    result = printers_cli.printer_test(url, model, _printer_base_dir(), document)
    sys.exit(printers_cli.emit(result))


@printer.command("usb")
def printer_usb() -> None:
    """List USB devices with a printer interface, as usb:// URLs."""
    from printers import cli as printers_cli

    sys.exit(printers_cli.emit(printers_cli.usb_printers()))


@printer.command(
    "emulate", context_settings={"ignore_unknown_options": True, "help_option_names": []}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def printer_emulate(args: tuple[str, ...]) -> None:
    """Emulate a network ESC/POS printer (options: --help)."""
    from printers import emulator

    sys.exit(emulator.main(list(args), prog="queue-server printer emulate"))


@cli.command("reset-day")
def reset_day_cmd() -> None:
    """Move tickets of earlier business days to history now (the server does it each minute)."""
    from .services.day_reset import reset_day
    from .services.setup import ensure_state_rows

    ctx = _context(Settings.from_env())
    ensure_state_rows(ctx)  # a database the server has never opened has no per-service rows yet
    click.echo(json.dumps({"moved": reset_day(ctx)}))


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


from .metrics.cli import metrics as _metrics_group  # noqa: E402

cli.add_command(_metrics_group)


@cli.command()
def openapi() -> None:
    """Print the OpenAPI document."""
    from .api.openapi import document

    click.echo(json.dumps(document(), ensure_ascii=False, indent=2))


@cli.command("print-agent")
@click.option("--server", required=True, help="The queue server, e.g. http://10.0.0.2:8000")
@click.option(
    "--token-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding this agent's device token (device id <kiosk_id>-agent).",
)
@click.option(
    "--printer", "printer_specs", multiple=True, required=True, help="ID=URL, repeatable."
)
@click.option("--status-interval", default=10.0, show_default=True, type=float)
@click.option(
    "--base-dir",
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for relative virtual:// printers.",
)
def print_agent(
    server: str,
    token_file: Path,
    printer_specs: tuple[str, ...],
    status_interval: float,
    base_dir: Path,
) -> None:
    """Kiosk print agent: print the jobs of this kiosk's printer (docs/printing-jobs.md)."""
    import signal

    from printers.agent import PrintAgent, parse_printers

    try:
        printers_by_id = parse_printers(list(printer_specs))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--printer") from None
    token = token_file.read_text(encoding="utf-8").strip()
    agent = PrintAgent(
        server, token, printers_by_id, base_dir=base_dir, status_interval=status_interval
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: agent.stop())
    agent.run()


@cli.group()
def lab() -> None:
    """Lab-report self-print: the LIS interface (docs/lab-reports.md)."""


@lab.command("mllp")
@click.option("--host", default=None, help="Default: the site's [lab] mllp_host.")
@click.option("--port", default=None, type=int, help="Default: the site's [lab] mllp_port.")
def lab_mllp(host: str | None, port: int | None) -> None:
    """Run only the MLLP listener (HL7 v2 ORU^R01 in, ACK out) until SIGTERM/SIGINT."""
    from .lab.cli import run_mllp

    settings = Settings.from_env()
    _check_schema(settings)
    try:
        run_mllp(settings, _context(settings), host, port)
    except QueueError as exc:
        _fail(exc)


@lab.command("send")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2575, show_default=True, type=int)
def lab_send(path: Path, host: str, port: int) -> None:
    """Send an HL7 v2 file over MLLP and print the ACK (a test tool for LIS integration)."""
    from .lab.cli import send_file

    click.echo(send_file(path, host, port).replace("\r", "\n"))
