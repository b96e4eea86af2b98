"""HL7 v2.5.1 ORU^R01 in (parsed with hl7apy), ACK out (AA / AE / AR with MSA and ERR).

Profile (docs/lab-reports.md): one ORU^R01 may carry several patients and several OBR; each
OBR is one specimen's report. PID-3 patient id, PID-5 name, PID-7 birth date, PID-13 phone;
ORC-2 / OBR-2 placer order number, OBR-3 filler number = the specimen barcode (标本条码),
OBR-4 panel code (looked up in the site's 取报告时间 table), OBR-7 collection time, OBR-22
report time, OBR-25 result status; OBX-3 test code^name, OBX-5 value, OBX-6 unit, OBX-7
reference range, OBX-8 abnormal flag, OBX-11 observation status.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
from zoneinfo import ZoneInfo

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.parser import parse_message

from .messages import (
    CANCELLED,
    HL7_STATUS,
    IncomingMessage,
    IncomingReport,
    IncomingResult,
    MessageError,
    slip_flag,
)
from .tokens import normalize_birth_date

log = logging.getLogger(__name__)

VERSIONS = ("2.5.1", "2.5")
CHARSETS = {
    "": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "GB 18030-2000": "gb18030",
    "ASCII": "ascii",
    "8859/1": "latin-1",
}
APPLICATION = "OUTPATIENT-HALL"
_ids = itertools.count(1)
_ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}
_ESCAPE = re.compile(r"\\([FSTRE])\\")
_TS = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")


def charset_of(raw: bytes) -> str:
    """The Python codec named by MSH-18 (default UTF-8); MSH is ASCII, so read it as bytes."""
    first = raw.lstrip().split(b"\r", 1)[0].split(b"\n", 1)[0]
    if not first.startswith(b"MSH") or len(first) < 4:
        return "utf-8"
    fields = first.split(first[3:4])
    name = fields[17].decode("ascii", "replace").strip() if len(fields) > 17 else ""
    return CHARSETS.get(name.split("^")[0].upper(), "utf-8")


def decode(raw: bytes) -> tuple[str, str]:
    """The message text and its codec; undecodable bytes are an AR."""
    codec = charset_of(raw)
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        raise MessageError(
            f"the message is not valid {codec} (MSH-18)", reject=True, hl7_code=102
        ) from None
    return text.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x00 "), codec


def unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES[m[1]], text)


def _clean(text: str) -> str:
    """Free text for an ERR segment: no HL7 delimiters."""
    return re.sub(r"[|^~\\&\r\n]", " ", text)[:200]


def parse_ts(value: str, tz: ZoneInfo, where: str) -> dt.datetime | None:
    """An HL7 TS/DTM (YYYYMMDD[HHMM[SS]][+ZZZZ]); local site time when it has no offset."""
    value = (value or "").strip()
    if not value:
        return None
    m = _TS.match(value)
    if not m:
        raise MessageError(
            f"{where} is not an HL7 timestamp: {value!r}", location=where, hl7_code=102
        )
    try:
        naive = dt.datetime(
            int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0), int(m[5] or 0), int(m[6] or 0)
        )
    except ValueError:
        raise MessageError(
            f"{where} is not a real date: {value!r}", location=where, hl7_code=102
        ) from None
    if m[7]:
        sign = 1 if m[7][0] == "+" else -1
        offset = dt.timedelta(hours=int(m[7][1:3]), minutes=int(m[7][3:5])) * sign
        return naive.replace(tzinfo=dt.timezone(offset))
    return naive.replace(tzinfo=tz)


def _v(element) -> str:  # type: ignore[no-untyped-def]
    """The raw (still escaped) ER7 text of a field ("" when absent)."""
    try:
        return element.to_er7().strip()
    except (AttributeError, IndexError):
        return ""


def _first(field) -> str:  # type: ignore[no-untyped-def]
    """The first component of the first repetition of a field, unescaped."""
    return _component(_v(field), 1)


def _children(group, name: str) -> list:  # type: ignore[no-untyped-def]
    return [c for c in group.children if c.name == name]


def _component(raw: str, n: int) -> str:
    """Component ``n`` (1-based) of the first repetition of raw ER7 text, unescaped."""
    parts = raw.split("~", 1)[0].split("^")
    return unescape(parts[n - 1].split("&", 1)[0]).strip() if len(parts) >= n else ""


def _text(raw: str) -> str:
    """A whole field's first repetition as text (for ST/NM values, ranges), unescaped."""
    return unescape(raw.split("~", 1)[0]).strip()


def parse_oru(text: str, tz: ZoneInfo) -> IncomingMessage:
    """An ORU^R01 as an IncomingMessage; raises MessageError (AR for the envelope, else AE)."""
    if not text.startswith("MSH"):
        raise MessageError(
            "the message does not start with an MSH segment", reject=True, hl7_code=100
        )
    try:
        msg = parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
    except Exception as exc:  # hl7apy raises many kinds for broken envelopes
        raise MessageError(f"not an HL7 v2 message: {exc}", reject=True, hl7_code=100) from None
    msh = msg.msh
    control_id = _v(msh.msh_10)
    msg_type = _v(msh.msh_9)
    if _component(msg_type, 1) != "ORU" or _component(msg_type, 2) != "R01":
        code = 200 if _component(msg_type, 1) != "ORU" else 201
        raise MessageError(
            f"only ORU^R01 is accepted, not {msg_type or 'nothing'}",
            reject=True,
            location="MSH-9",
            hl7_code=code,
        )
    version = _v(msh.msh_12).split("^")[0]
    if version not in VERSIONS:
        raise MessageError(
            f"HL7 version {version or '?'} is not supported (2.5.1)",
            reject=True,
            location="MSH-12",
            hl7_code=203,
        )
    if not control_id:
        raise MessageError(
            "MSH-10 (message control id) is empty", reject=True, location="MSH-10", hl7_code=101
        )
    reports = _reports(text, tz)
    if not reports:
        raise MessageError("the message has no OBR segment", location="OBR", hl7_code=100)
    return IncomingMessage(message_id=control_id[:64], source="hl7", reports=tuple(reports))


def _segments(text: str) -> list[tuple[str, str]]:
    """(segment name, segment text) in order."""
    return [(line[:3], line) for line in text.split("\r") if line.strip()]


def _reports(text: str, tz: ZoneInfo) -> list[IncomingReport]:
    """Walk the segments in order: PID starts a patient, OBR a report, OBX adds a result.

    Each segment is parsed by hl7apy on its own (tolerant about optional groups such as PV1,
    NTE, SPM, TQ1 around them), which is how ORU^R01 nests them.
    """
    from hl7apy.parser import parse_segment

    reports: list[IncomingReport] = []
    patient: dict[str, str | None] = {}
    current: dict | None = None
    results: list[IncomingResult] = []
    order_id: str | None = None

    def close() -> None:
        if current is not None:
            reports.append(IncomingReport(**current, results=tuple(results)))

    for index, (name, line) in enumerate(_segments(text), start=1):
        try:
            seg = parse_segment(line, version="2.5.1", validation_level=VALIDATION_LEVEL.TOLERANT)
        except Exception as exc:
            raise MessageError(
                f"segment {index} ({name}) cannot be read: {exc}", location=name, hl7_code=102
            ) from None
        if name == "PID":
            close()
            current, results, order_id = None, [], None
            pid_3 = _first(seg.pid_3)
            name_raw = _v(seg.pid_5)
            family, given = _component(name_raw, 1), _component(name_raw, 2)
            full = (
                (family + given).strip() if _is_cjk(family + given) else f"{given} {family}".strip()
            )
            birth_raw = _first(seg.pid_7)[:8]
            birth = normalize_birth_date(birth_raw) if birth_raw else None
            if birth_raw and birth is None:
                raise MessageError(
                    f"PID-7 is not a date: {birth_raw!r}", location="PID-7", hl7_code=102
                )
            phones = [_component(p, 1) or _component(p, 12) for p in _v(seg.pid_13).split("~")]
            patient = {
                "patient_id": pid_3 or None,
                "patient_name": full or None,
                "birth_date": birth,
                "phone": next((p for p in phones if p), None),
            }
        elif name == "ORC":
            order_id = _first(seg.orc_2) or order_id
        elif name == "OBR":
            close()
            results = []
            specimen = _first(seg.obr_3) or _first(seg.obr_2)
            if not specimen:
                raise MessageError(
                    "OBR-3 (specimen barcode) is empty", location="OBR-3", hl7_code=101
                )
            status_raw = _text(_v(seg.obr_25))
            status = HL7_STATUS.get(status_raw.upper())
            if status is None:
                raise MessageError(
                    f"OBR-25 result status {status_raw!r} is not one of {'/'.join(HL7_STATUS)}",
                    location="OBR-25",
                    hl7_code=103 if status_raw else 101,
                )
            panel = _v(seg.obr_4)
            current = {
                "specimen_id": specimen[:64],
                "status": status,
                "order_id": (_first(seg.obr_2) or order_id or None),
                "panel_code": _component(panel, 1)[:32] or None,
                "panel_name": _component(panel, 2)[:128] or None,
                **patient,
                "collected_at": parse_ts(_v(seg.obr_7), tz, "OBR-7"),
                "reported_at": parse_ts(_v(seg.obr_22), tz, "OBR-22"),
            }
        elif name == "OBX":
            if current is None:
                raise MessageError("OBX before any OBR", location="OBX", hl7_code=100)
            if current["status"] == CANCELLED:
                continue
            ident = _v(seg.obx_3)
            code = _component(ident, 1)
            if not code:
                raise MessageError(
                    f"OBX-3 (test code) is empty in segment {index}", location="OBX-3", hl7_code=101
                )
            unit = _v(seg.obx_6)
            results.append(
                IncomingResult(
                    code=code[:32],
                    name=(_component(ident, 2) or code)[:128],
                    value=(
                        _component(_v(seg.obx_5), 2) or _component(_v(seg.obx_5), 1)
                        if _v(seg.obx_2) in ("CE", "CWE")
                        else _text(_v(seg.obx_5))
                    )[:128],
                    unit=_component(unit, 1)[:32],
                    reference_range=_text(_v(seg.obx_7))[:64],
                    flag=slip_flag(_text(_v(seg.obx_8))),
                    status=(_text(_v(seg.obx_11)) or "F")[:4],
                )
            )
    close()
    return reports


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" for c in text)


def ack(
    text: str | None,
    code: str,
    *,
    error: MessageError | None = None,
    charset: str = "UNICODE UTF-8",
    now: dt.datetime | None = None,
) -> str:
    """An ACK for the message ``text`` (which may be unreadable): MSA-1 ``code`` (AA/AE/AR),
    MSA-2 the control id, and an ERR segment for AE/AR."""
    fields = _msh_fields(text or "")
    ack_msg = Message("ACK", version="2.5.1", validation_level=VALIDATION_LEVEL.TOLERANT)
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S%z")
    ack_msg.msh.msh_3 = APPLICATION
    if fields.get(3):
        ack_msg.msh.msh_5 = _clean(fields[3])
    if fields.get(4):
        ack_msg.msh.msh_6 = _clean(fields[4])
    ack_msg.msh.msh_7 = when
    ack_msg.msh.msh_9 = "ACK^R01^ACK"
    ack_msg.msh.msh_10 = f"ACK{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}{next(_ids):06d}"
    ack_msg.msh.msh_11 = _clean(fields.get(11, "")) or "P"
    ack_msg.msh.msh_18 = charset
    ack_msg.msa.msa_1 = code
    ack_msg.msa.msa_2 = _clean(fields.get(10, ""))
    if error is not None:
        err = ack_msg.add_segment("ERR")
        segment, _, position = error.location.partition("-")
        if segment and position.isdigit():
            err.err_2 = f"{_clean(segment)}^1^{position}"
        err.err_3 = f"{error.hl7_code}^{_ERROR_TEXT.get(error.hl7_code, 'Error')}^HL70357"
        err.err_4 = "E"
        err.err_8 = _clean(error.message)
    return ack_msg.to_er7()


_ERROR_TEXT = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    203: "Unsupported version id",
    206: "Application record locked",
    207: "Application internal error",
}


def _msh_fields(text: str) -> dict[int, str]:
    """MSH-n values by n, read without a parser (the message may be broken)."""
    first = text.split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 4:
        return {}
    parts = first.split(first[3])
    return {n: parts[n - 1] for n in range(3, len(parts) + 1)}
