"""Pure parts: receipt tokens, HL7 and FHIR mapping, status transitions, ACK structure."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queue_server.lab import fhir, hl7
from queue_server.lab.messages import ALLOWED, MessageError, next_status, slip_flag
from queue_server.lab.tokens import ALPHABET, new_token, normalize_token, phone_last4
from queue_server.site import parse_site
from tests.lab.conftest import FIXTURES, fixture_bytes

TZ = ZoneInfo("Asia/Shanghai")


def parse(name: str):  # type: ignore[no-untyped-def]
    return hl7.parse_oru(hl7.decode(fixture_bytes(name))[0], TZ)


def test_tokens_are_100_random_bits_in_crockford_base32() -> None:
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(len(t) == 20 and set(t) <= set(ALPHABET) for t in tokens)
    # every character position takes many values: no fixed prefix, no counter
    for i in range(20):
        assert len({t[i] for t in tokens}) > 25


@given(st.integers(min_value=0, max_value=2**100 - 1))
def test_normalize_reads_what_people_type(n: int) -> None:
    token = "".join(ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(20)))
    typed = " ".join(token[i : i + 4] for i in range(0, 20, 4)).lower()
    assert normalize_token(typed) == token
    assert normalize_token(token.replace("1", "I").replace("0", "O")) == token
    assert normalize_token(token[:-1]) is None


def test_phone_last4() -> None:
    assert phone_last4("139-1111-2233") == "2233"
    assert phone_last4("12") is None


def test_hl7_mapping_of_the_cbc() -> None:
    msg = parse("oru_cbc_final.hl7")
    [report] = msg.reports
    assert (report.specimen_id, report.order_id, report.status) == (
        "2611230001",
        "ORD202611230001",
        "final",
    )
    assert (report.patient_name, report.birth_date, report.phone) == (
        "张小三",
        "19800512",
        "13812345678",
    )
    assert report.collected_at.isoformat() == "2026-11-23T09:05:00+08:00"
    assert [(r.code, r.unit, r.flag) for r in report.results] == [
        ("WBC", "10^9/L", ""),
        ("RBC", "10^12/L", "L"),
        ("HGB", "g/L", "L"),
        ("PLT", "10^9/L", "H"),
        ("NEUT%", "%", ""),
    ]


def test_hl7_statuses_and_several_obr() -> None:
    assert parse("oru_cbc_corrected.hl7").reports[0].status == "corrected"
    assert parse("oru_cancel.hl7").reports[0].status == "cancelled"
    reports = parse("oru_registered_two.hl7").reports
    assert [(r.specimen_id, r.panel_code, r.status) for r in reports] == [
        ("2611230003", "CRP", "registered"),
        ("2611230004", "TFT", "registered"),
    ]


@pytest.mark.parametrize(
    ("name", "reject", "code", "location"),
    [
        ("adt_a01.hl7", True, 200, "MSH-9"),
        ("oru_bad_status.hl7", False, 103, "OBR-25"),
    ],
)
def test_hl7_errors(name: str, reject: bool, code: int, location: str) -> None:
    with pytest.raises(MessageError) as info:
        parse(name)
    assert (info.value.reject, info.value.hl7_code, info.value.location) == (
        reject,
        code,
        location,
    )


def test_hl7_version_and_dates_are_checked() -> None:
    text = hl7.decode(fixture_bytes("oru_cbc_final.hl7"))[0]
    with pytest.raises(MessageError) as info:
        hl7.parse_oru(text.replace("|2.5.1|", "|2.3|"), TZ)
    assert info.value.reject and info.value.hl7_code == 203
    with pytest.raises(MessageError) as info:
        hl7.parse_oru(text.replace("||19800512|", "||19801332|"), TZ)
    assert info.value.location == "PID-7"


def test_ack_structure() -> None:
    text = hl7.decode(fixture_bytes("oru_bad_status.hl7"))[0]
    error = MessageError("OBR-25 | bad ^ value", location="OBR-25", hl7_code=103)
    segments = hl7.ack(text, "AE", error=error).split("\r")
    assert segments[0].startswith("MSH|^~\\&|OUTPATIENT-HALL||LIS|SHIYAN-LAB|")
    assert "|ACK^R01^ACK|" in segments[0]
    assert segments[1] == "MSA|AE|LIS20261123000160"
    assert (
        segments[2] == "ERR||OBR^1^25|103^Table value not found^HL70357|E||||OBR-25   bad   value"
    )
    # an unreadable message still gets an ACK
    assert hl7.ack(None, "AR").split("\r")[1] == "MSA|AR|"


def test_fhir_mapping() -> None:
    msg = fhir.parse_fhir(json.loads((FIXTURES / "fhir_glucose_contained.json").read_text()), TZ)
    [report] = msg.reports
    assert (report.specimen_id, report.order_id, report.status, report.panel_code) == (
        "2611230005",
        "ORD202611230005",
        "final",
        "GLU",
    )
    assert [(r.code, r.value, r.unit, r.reference_range, r.flag) for r in report.results] == [
        ("GLU", "7.9", "mmol/L", "3.9-6.1", "H"),
        ("HBA1C", "6.8", "%", "4.0-6.0", "H"),
    ]


def test_fhir_unresolvable_reference() -> None:
    data = json.loads((FIXTURES / "fhir_glucose_contained.json").read_text())
    data["result"].append({"reference": "#missing"})
    with pytest.raises(MessageError) as info:
        fhir.parse_fhir(data, TZ)
    assert "#missing" in info.value.message


def test_transitions() -> None:
    assert next_status("registered", "final") == "final"
    assert next_status("corrected", "final") == "corrected"
    for current, allowed in ALLOWED.items():
        if current in ("final", "corrected"):
            assert "preliminary" not in allowed
    with pytest.raises(ValueError):
        next_status("cancelled", "final")
    assert [slip_flag(f) for f in ("H", "HH", "L", "N", "", "POS", "weird")] == [
        "H",
        "H",
        "L",
        "",
        "",
        "A",
        "A",
    ]


def test_lab_section_is_validated_with_lines() -> None:
    from queue_server.domain.errors import QueueError

    text = """
[[services]]
id = "reg"
name_zh = "挂号"
name_en = "Reg"
prefix = "A"

[lab]
second_check = "id_card"
mllp_port = 70000
webhook_url = "ftp://x"

[[lab.tests]]
code = "CBC"
name_zh = "血常规"
ready_minutes = 0
"""
    with pytest.raises(QueueError) as info:
        parse_site(text, "lab.toml")
    errors = info.value.details["errors"]
    assert "lab.toml:9: lab.second_check: must be birth_date or phone_last4" in errors
    assert "lab.toml:10: lab.mllp_port: must be a TCP port 1-65535" in errors
    assert "lab.toml:11: lab.webhook_url: must be an http:// or https:// URL" in errors
    assert any(e.startswith("lab.toml:16: lab.tests[0].ready_minutes") for e in errors)
    site = parse_site(text.split("[lab]")[0], "nolab.toml")
    assert site.lab is None
