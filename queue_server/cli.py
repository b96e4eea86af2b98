"""The ``queue-server`` command. Serving commands patch the standard library for gevent first."""

from __future__ import annotations

import sys

SERVING = ("serve", "demo")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in SERVING:
        from gevent import monkey

        monkey.patch_all()
    from .commands import cli

    cli.main(args=args, prog_name="queue-server")


if __name__ == "__main__":
    main()
