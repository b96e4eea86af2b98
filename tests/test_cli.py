"""The command line: which commands run under gevent, --help, site checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from queue_server.cli import uses_gevent


@pytest.mark.parametrize(
    ("args", "gevent"),
    [
        (["serve"], True),
        (["-v", "serve", "--port", "9000"], True),
        (["demo"], True),
        (["serve", "--mode", "threading"], False),
        (["serve", "--mode=threading"], False),
        (["serve", "--mode", "gevent"], True),
        (["init-db"], False),
        (["users", "add", "--username", "serve"], False),
        ([], False),
    ],
)
def test_only_serving_commands_patch_for_gevent(args: list[str], gevent: bool) -> None:
    assert uses_gevent(args) is gevent


def test_help_and_check_site_run() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "queue_server", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("demo", "serve", "init-db", "users", "devices", "reset-day", "check-site"):
        assert command in help_text
    done = subprocess.run(
        [sys.executable, "-m", "queue_server", "check-site"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "7 services, 14 counters" in done.stdout


def test_reset_day_on_a_database_the_server_never_opened(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.server import cli, server_env

    env = server_env(tmp_path)
    cli(env, "init-db")
    assert json.loads(cli(env, "reset-day")) == {"moved": 0}
