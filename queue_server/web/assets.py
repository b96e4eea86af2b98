"""Third-party browser assets, served from the npm-installed ``node_modules`` (never a CDN).

Hospital LANs are offline, so every page loads its libraries from this server. The files come
from ``package-lock.json`` via ``npm ci`` (``scripts/setup-env``); set ``QUEUE_ASSETS_DIR`` to
a ``node_modules`` folder elsewhere when the server runs from an installed wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("assets", __name__)

#: Public name → file inside node_modules. Only these files are served.
VENDOR_FILES: dict[str, str] = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
    "morphdom.min.js": "morphdom/dist/morphdom-umd.min.js",
}


def node_modules() -> Path:
    """Where the npm packages are: ``QUEUE_ASSETS_DIR`` or the checkout's ``node_modules``."""
    configured = os.environ.get("QUEUE_ASSETS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "node_modules"


@bp.get("/vendor/<name>")
def vendor(name: str):  # type: ignore[no-untyped-def]
    relative = VENDOR_FILES.get(name)
    if relative is None:
        abort(404)
    path = node_modules() / relative
    if not path.is_file():
        abort(404, description=f"{relative} is missing: run scripts/setup-env (npm ci)")
    response = send_from_directory(path.parent, path.name, max_age=3600)
    return response
