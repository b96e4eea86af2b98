"""What an ingested lab message says, independent of HL7 v2 or FHIR; statuses and transitions.

Pure: standard library only. ``hl7.py`` and ``fhir.py`` turn messages into these dataclasses;
``service.py`` writes them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

REGISTERED = "registered"
PRELIMINARY = "preliminary"
FINAL = "final"
CORRECTED = "corrected"
CANCELLED = "cancelled"
STATUSES = (REGISTERED, PRELIMINARY, FINAL, CORRECTED, CANCELLED)
#: Statuses whose slip may be printed (OBR-25 F or C; FHIR final / corrected / amended).
PRINTABLE = (FINAL, CORRECTED)

#: HL7 table 0123 (OBR-25 result status) → report status. Anything else is refused (AE).
HL7_STATUS = {
    "O": REGISTERED,  # order received, specimen not yet received
    "I": REGISTERED,  # in lab, no results
    "S": REGISTERED,  # scheduled
    "A": PRELIMINARY,  # some results available
    "P": PRELIMINARY,
    "R": PRELIMINARY,  # results stored, not yet verified
    "F": FINAL,
    "C": CORRECTED,
    "X": CANCELLED,  # no results: order cannot be done
}

#: FHIR R4 DiagnosticReport.status → report status.
FHIR_STATUS = {
    "registered": REGISTERED,
    "partial": PRELIMINARY,
    "preliminary": PRELIMINARY,
    "final": FINAL,
    "amended": CORRECTED,
    "corrected": CORRECTED,
    "appended": CORRECTED,
    "cancelled": CANCELLED,
    "entered-in-error": CANCELLED,
}

#: Which incoming status may follow which stored one. A final report never goes back to
#: preliminary; a cancelled report takes nothing but another cancellation.
ALLOWED: dict[str, frozenset[str]] = {
    REGISTERED: frozenset(STATUSES),
    PRELIMINARY: frozenset(STATUSES),
    FINAL: frozenset({FINAL, CORRECTED, CANCELLED}),
    CORRECTED: frozenset({FINAL, CORRECTED, CANCELLED}),
    CANCELLED: frozenset({CANCELLED}),
}

#: HL7 abnormal flags (table 0078) → the slip's flag.
FLAGS = {
    "H": "H",
    "HH": "H",
    ">": "H",
    "HU": "H",
    "L": "L",
    "LL": "L",
    "<": "L",
    "LU": "L",
    "A": "A",
    "AA": "A",
    "POS": "A",
    "N": "",
    "": "",
}


def next_status(current: str, incoming: str) -> str:
    """The stored status after ``incoming`` arrives; a final resend of a corrected report stays
    corrected. Raises ValueError when the change is not allowed."""
    if incoming not in ALLOWED[current]:
        raise ValueError(f"a {current} report cannot become {incoming}")
    if current == CORRECTED and incoming == FINAL:
        return CORRECTED
    return incoming


def slip_flag(raw: str | None) -> str:
    """An interpretation code as the slip's flag: "", "H", "L" or "A" (unknown codes: "A")."""
    code = (raw or "").strip().upper()
    return FLAGS.get(code, "A")


class MessageError(Exception):
    """A message that cannot be taken. ``reject`` (HL7 AR) is for envelopes we do not accept at
    all (type, version, structure); otherwise it is an application error (HL7 AE)."""

    def __init__(
        self, message: str, *, reject: bool = False, location: str = "", hl7_code: int = 207
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reject = reject
        self.location = location  # e.g. "OBR-25" (HL7) or "DiagnosticReport.status" (FHIR)
        self.hl7_code = hl7_code  # HL7 table 0357: 101 missing field, 103 table value, ...


@dataclass(frozen=True)
class IncomingResult:
    code: str
    name: str
    value: str
    unit: str = ""
    reference_range: str = ""
    flag: str = ""
    status: str = "F"


@dataclass(frozen=True)
class IncomingReport:
    specimen_id: str
    status: str
    order_id: str | None = None
    panel_code: str | None = None
    panel_name: str | None = None
    patient_name: str | None = None
    patient_id: str | None = None
    birth_date: str | None = None  # YYYYMMDD
    phone: str | None = None
    collected_at: dt.datetime | None = None
    reported_at: dt.datetime | None = None
    results: tuple[IncomingResult, ...] = ()


@dataclass(frozen=True)
class IncomingMessage:
    """One message: an HL7 control id (MSH-10) or FHIR resource id, and its reports."""

    message_id: str
    source: str  # hl7 | fhir | desk
    reports: tuple[IncomingReport, ...] = field(default_factory=tuple)
