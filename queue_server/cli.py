"""The ``queue-server`` command. Serving commands patch the standard library for gevent first."""

from __future__ import annotations

import itertools
import sys

SERVING = ("serve", "demo")


def uses_gevent(args: list[str]) -> bool:
    """True for the serving commands, except ``serve --mode threading`` (the comparison mode)."""
    command = next((a for a in args if not a.startswith("-")), None)
    if command not in SERVING:
        return False
    threading = "--mode=threading" in args or any(
        a == "--mode" and b == "threading" for a, b in itertools.pairwise(args)
    )
    return not threading


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if uses_gevent(args):
        from gevent import monkey

        monkey.patch_all()
    from .commands import cli

    cli.main(args=args, prog_name="queue-server")


if __name__ == "__main__":
    main()
