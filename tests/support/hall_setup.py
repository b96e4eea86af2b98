"""Prepare a hall's database in one process: schema, users, device tokens (JSON on stdout).

Run as ``python -m tests.support.hall_setup '<json spec>'`` with the QUEUE_* environment of the
server to be started; the same as ``queue-server init-db``, ``users add`` and ``devices add``
one after another, without a process start per command.
"""

from __future__ import annotations

import json
import sys

from queue_server.commands import _context
from queue_server.config import Settings
from queue_server.persistence.engine import make_engine
from queue_server.persistence.migrate import upgrade
from queue_server.services import accounts


def main(spec_json: str) -> None:
    """spec: ``{"users": [[name, role, password]], "devices": [[kind, id]]}``."""
    spec = json.loads(spec_json)
    settings = Settings.from_env()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    ctx = _context(settings)
    for username, role, password in spec.get("users", []):
        accounts.add_user(ctx, username, role, password)
    tokens = {
        device_id: accounts.add_device(ctx, kind, device_id)
        for kind, device_id in spec.get("devices", [])
    }
    json.dump({"tokens": tokens}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
