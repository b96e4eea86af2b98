"""The lab endpoints' rows for tests/api/test_auth.py's who-may-call-what table, and the request
each row makes (a fresh final report with a receipt token where one is needed)."""

from __future__ import annotations

import itertools
from typing import Any

from werkzeug.test import TestResponse

from queue_server.lab.messages import FINAL, IncomingMessage, IncomingReport, IncomingResult

USERS = frozenset({"staff", "manager", "admin"})
ADMIN = frozenset({"admin"})
KIOSK = frozenset({"kiosk"})
#: (method, path, allowed callers, success status); {lab} is a fresh report's id.
LAB_ROWS: list[tuple[str, str, frozenset[str], int]] = [
    ("POST", "/lab/hl7", ADMIN, 200),
    ("POST", "/lab/fhir", ADMIN, 200),
    ("POST", "/lab/reports", USERS, 201),
    ("GET", "/lab/reports", USERS, 200),
    ("GET", "/lab/reports/{lab}", USERS, 200),
    ("POST", "/lab/reports/{lab}/receipt-token", USERS, 201),
    ("POST", "/lab/reports/{lab}/reset-print", USERS, 200),
    ("POST", "/lab/lookup", KIOSK, 200),
    ("POST", "/lab/print", KIOSK, 201),
]
_n = itertools.count(1)
HL7 = (
    "MSH|^~\\&|LIS|LAB|HALL|HOSP|20261123093500||ORU^R01^ORU_R01|AUTH{n}|P|2.5.1\r"
    "PID|1||P1||测^试||19800512\r"
    "OBR|1|O{n}|AUTH-HL7-{n}|CBC^血常规|||20261123090000||||||||||||||||||I"
)


def _final_report(app: Any) -> tuple[int, str]:
    """A final report with results; returns its id and receipt token."""
    n = next(_n)
    report = IncomingReport(
        specimen_id=f"AUTH-{n}",
        status=FINAL,
        panel_code="CBC",
        patient_name="测试",
        birth_date="19800512",
        results=(IncomingResult("HGB", "血红蛋白", "130", "g/L", "130-175"),),
    )
    service = app.extensions["hall_lab"]
    [out] = service.ingest(IncomingMessage(f"auth-{n}", "fhir", (report,)), "test")
    return out["report_id"], out["receipt_token"]


def lab_request(hall: Any, method: str, path: str, headers: dict[str, str]) -> TestResponse | None:
    """The request of a lab row (None for other rows)."""
    if not path.startswith("/lab/"):
        return None
    api = "/api/v1"
    body: dict[str, Any] | None = None
    if "{lab}" in path or path in ("/lab/lookup", "/lab/print"):
        report_id, token = _final_report(hall.app)
        path = path.replace("{lab}", str(report_id))
        body = {"token": token, "check": "1980-05-12", "reason": "auth table"}
    if path == "/lab/hl7":
        data = HL7.replace("{n}", str(next(_n))).encode()
        return hall.client.post(
            api + path, data=data, headers={**headers, "Content-Type": "x-application/hl7-v2+er7"}
        )
    if path == "/lab/fhir":
        body = {
            "resourceType": "DiagnosticReport",
            "status": "registered",
            "code": {"coding": [{"code": "CBC"}]},
            "identifier": [{"value": f"AUTH-FHIR-{next(_n)}"}],
        }
    if path == "/lab/reports" and method == "POST":
        body = {"specimen_id": f"AUTH-DESK-{next(_n)}", "panel_code": "CBC"}
    if method == "GET":
        return hall.get(path, headers)
    return hall.post(path, body, headers)
