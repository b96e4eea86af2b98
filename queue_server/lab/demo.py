"""Sample lab reports for ``queue-server demo``, so the kiosk page ``/kiosk/<id>/lab`` can be tried.

Two reports of today's business day go through the normal HL7 ingest path (ORU^R01 v2.5.1, as
an LIS would send them): a FINAL blood count (printable) and a PRELIMINARY liver panel (the
kiosk shows when it is expected). Specimen ids depend only on the day, so restarting the demo
re-ingests the same reports instead of adding new ones; the receipt tokens are re-issued on
every start (only their hashes are stored) and a slip printed in an earlier run is made
printable again (audited as a staff reset).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from ..domain.clock import day_start
from ..domain.errors import QueueError
from ..site import Site
from . import errors as le
from .service import LabService

log = logging.getLogger(__name__)
ACTOR = "system:demo"
CHECK_LABELS = {"birth_date": "birth date", "phone_last4": "phone last 4"}


@dataclass(frozen=True)
class _Sample:
    suffix: str  # the specimen id is DEMO<yymmdd><suffix>
    panel: tuple[str, str]  # code, Chinese name
    result_status: str  # OBR-25 / OBX-11: F final, P preliminary
    family: str
    given: str
    sex: str
    birth: str  # YYYYMMDD
    phone: str
    collected_min_ago: int
    reported_min_ago: int | None
    # code, name, value, unit (ER7-escaped), reference range, abnormal flag
    results: tuple[tuple[str, str, str, str, str, str], ...]


SAMPLES = (
    _Sample(
        suffix="01",
        panel=("CBC", "血常规"),
        result_status="F",
        family="王",
        given="小明",
        sex="M",
        birth="19850314",
        phone="13912345678",
        collected_min_ago=45,
        reported_min_ago=5,
        results=(
            ("WBC", "白细胞计数", "11.8", "10\\S\\9/L", "3.5-9.5", "H"),
            ("RBC", "红细胞计数", "4.65", "10\\S\\12/L", "4.3-5.8", "N"),
            ("HGB", "血红蛋白", "142", "g/L", "130-175", "N"),
            ("PLT", "血小板计数", "210", "10\\S\\9/L", "125-350", "N"),
            ("NEUT%", "中性粒细胞百分比", "78.4", "%", "40-75", "H"),
        ),
    ),
    _Sample(
        suffix="02",
        panel=("LFT", "肝功能"),
        result_status="P",
        family="陈",
        given="静怡",
        sex="F",
        birth="19620821",
        phone="13700002468",
        collected_min_ago=20,
        reported_min_ago=None,
        results=(
            ("ALT", "丙氨酸氨基转移酶", "86", "U/L", "9-50", "H"),
            ("AST", "天门冬氨酸氨基转移酶", "41", "U/L", "15-40", "H"),
        ),
    ),
)


def _ts(moment: dt.datetime, site: Site) -> str:
    return moment.astimezone(site.timezone).strftime("%Y%m%d%H%M%S%z")


def build_oru(sample: _Sample, specimen_id: str, now: dt.datetime, site: Site) -> str:
    """The sample as an ORU^R01 (ER7, segments separated by CR), as the LIS would send it."""
    floor = day_start(now.astimezone(site.timezone).date(), site.timezone)
    collected = max(floor, now - dt.timedelta(minutes=sample.collected_min_ago))
    reported = ""
    if sample.reported_min_ago is not None:
        reported = _ts(max(collected, now - dt.timedelta(minutes=sample.reported_min_ago)), site)
    code, name = sample.panel
    order = f"ORD-{specimen_id}"
    control = f"{specimen_id}-{now.astimezone(site.timezone):%H%M%S}"
    orc_status = "CM" if sample.result_status == "F" else "IP"
    obr = ["OBR", "1", order, specimen_id, f"{code}^{name}^L", "", "", _ts(collected, site)]
    obr += [""] * 14 + [reported, "", "", sample.result_status]  # OBR-22 and OBR-25
    segments = [
        "MSH|^~\\&|LIS|DEMO-LAB|OUTPATIENT-HALL|DEMO-HOSP|"
        f"{_ts(now, site)}||ORU^R01^ORU_R01|{control}|P|2.5.1|||AL|NE|CHN|UNICODE UTF-8",
        f"PID|1||DEMO-{specimen_id}^^^DEMO-HOSP^MR||{sample.family}^{sample.given}||"
        f"{sample.birth}|{sample.sex}|||||{sample.phone}^PRN^PH",
        f"ORC|RE|{order}|{specimen_id}||{orc_status}",
        "|".join(obr),
        *(
            f"OBX|{i}|NM|{c}^{n}^L||{v}|{u}|{rng}|{flag}|||{sample.result_status}"
            for i, (c, n, v, u, rng, flag) in enumerate(sample.results, start=1)
        ),
    ]
    return "\r".join(segments)


def _check_value(sample: _Sample, second_check: str) -> str:
    if second_check == "phone_last4":
        return sample.phone[-4:]
    return f"{sample.birth[:4]}-{sample.birth[4:6]}-{sample.birth[6:]}"


def seed_demo_reports(service: LabService) -> list[dict[str, Any]]:
    """Ingest today's sample reports (again) and issue their receipt tokens.

    Returns per report: specimen_id, report_id, panel, status, patient_masked,
    expected_ready_at, receipt_token, check_kind (the site's second check) and check (what the
    patient types). Raises QueueError(lab.message_rejected) if the ingest path refuses one.
    """
    site = service.ctx.site
    now = service.now()
    day = service.ctx.day(now)
    kind = service.config.second_check
    seeded = []
    for sample in SAMPLES:
        specimen_id = f"DEMO{day:%y%m%d}{sample.suffix}"
        ack, ok = service.ingest_hl7(build_oru(sample, specimen_id, now, site).encode(), ACTOR)
        if not ok:
            answer = ack.decode("utf-8", "replace").replace("\r", " | ")
            raise QueueError(le.MESSAGE_REJECTED, f"demo sample {specimen_id} refused: {answer}")
        report = service.find(specimen_id)[0]
        if report["print_count"] > 0:
            service.reset_print(report["id"], "demo restart: sample slip printable again", ACTOR)
        token = service.issue_token(report["id"], ACTOR)["receipt_token"]
        seeded.append(
            {
                "specimen_id": specimen_id,
                "report_id": report["id"],
                "panel": report["panel_name"] or report["panel_code"],
                "status": report["status"],
                "patient_masked": report["patient_masked"],
                "expected_ready_at": report["expected_ready_at"],
                "receipt_token": token,
                "check_kind": kind,
                "check": _check_value(sample, kind),
            }
        )
    log.info("demo lab reports seeded: %s", ", ".join(s["specimen_id"] for s in seeded))
    return seeded


def summary_lines(site: Site, base_url: str, seeded: list[dict[str, Any]]) -> list[str]:
    """The demo banner's lines for the seeded reports (nothing when there are none)."""
    if not seeded:
        return []
    kiosk = next((k.id for k in site.kiosks.values() if k.printer_id), None)
    kiosk = kiosk or next(iter(site.kiosks), "kiosk-1")
    lines = [f"  lab-report kiosk samples ({base_url}/kiosk/{kiosk}/lab):"]
    for s in seeded:
        state = s["status"]
        if s["status"] == "preliminary" and s["expected_ready_at"]:
            state += f", expected at {s['expected_ready_at'][11:16]}"
        label = CHECK_LABELS.get(s["check_kind"], s["check_kind"])
        lines.append(
            f"    {s['panel']} {s['patient_masked']}: receipt {s['receipt_token']}, "
            f"{label} {s['check']}, {state}"
        )
    return lines
