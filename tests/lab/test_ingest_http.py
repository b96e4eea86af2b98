"""HL7 v2 over HTTP and FHIR ingest: ACK codes, stored rows, privacy, corrections, cancellations,
one transaction per message."""

from __future__ import annotations

import json

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from tests.lab.conftest import HL7, Lab, fixture_bytes


def ack_of(resp) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """(MSA-1, MSA-2, ERR-8) of an ACK body, read with hl7apy."""
    msg = parse_message(resp.get_data(as_text=True), validation_level=VALIDATION_LEVEL.TOLERANT)
    err = msg.err.err_8.value if "ERR" in [c.name for c in msg.children] else ""
    return msg.msa.msa_1.value, msg.msa.msa_2.value, err


def test_final_cbc_is_acknowledged_and_stored(lab: Lab) -> None:
    resp = lab.hl7("oru_cbc_final.hl7")
    assert resp.status_code == 200
    assert resp.mimetype == HL7
    assert ack_of(resp)[:2] == ("AA", "LIS20261123000101")
    [(status, masked, panel, _ready, version)] = lab.sql(
        "SELECT status, patient_masked, panel_name, expected_ready_at, version FROM lab_reports"
    )
    assert (status, masked, panel, version) == ("final", "张*三", "血常规", 1)
    rows = lab.sql(
        "SELECT code, name, value, unit, reference_range, flag FROM lab_results ORDER BY seq"
    )
    assert [tuple(r) for r in rows][:4] == [
        ("WBC", "白细胞计数", "6.20", "10^9/L", "3.5-9.5", ""),
        ("RBC", "红细胞计数", "4.02", "10^12/L", "4.3-5.8", "L"),
        ("HGB", "血红蛋白", "118", "g/L", "130-175", "L"),
        ("PLT", "血小板计数", "356", "10^9/L", "125-350", "H"),
    ]


def test_no_patient_data_in_clear_anywhere(lab: Lab) -> None:
    assert lab.hl7("oru_cbc_final.hl7").status_code == 200
    dump = json.dumps(
        [
            [str(v) for v in row]
            for table in ("lab_reports", "lab_results", "lab_audit", "lab_outbox")
            for row in lab.sql(f"SELECT * FROM {table}")
        ],
        ensure_ascii=False,
    )
    for secret in ("张小三", "19800512", "1980-05-12", "13812345678", "5678", "P00123456"):
        assert secret not in dump, secret


def test_expected_ready_time_comes_from_the_site_table(lab: Lab) -> None:
    lab.hl7("oru_registered_two.hl7")
    rows = dict(
        lab.sql("SELECT specimen_id, expected_ready_at FROM lab_reports ORDER BY specimen_id")
    )
    # collected 09:06 Shanghai: CRP 30 min, thyroid 240 min
    assert str(rows["2611230003"]).startswith("2026-11-23 01:36")
    assert str(rows["2611230004"]).startswith("2026-11-23 05:06")


def test_correction_replaces_values_and_resets_the_print_count(lab: Lab) -> None:
    lab.hl7("oru_cbc_final.hl7")
    report_id = lab.sql("SELECT id FROM lab_reports")[0][0]
    with lab.service.ctx.db.session() as s:
        from queue_server.persistence.models_lab import LabReport

        s.get(LabReport, report_id).print_count = 1
    resp = lab.hl7("oru_cbc_corrected.hl7")
    assert ack_of(resp)[0] == "AA"
    assert lab.sql("SELECT status, print_count, version FROM lab_reports")[0] == (
        "corrected",
        0,
        2,
    )
    assert lab.sql("SELECT value FROM lab_results WHERE code = 'HGB'") == [("128",)]
    assert len(lab.sql("SELECT * FROM lab_results")) == 5
    audit = lab.sql("SELECT action, outcome, reason FROM lab_audit ORDER BY id")
    assert ("reset_print", "ok") in [(a, o) for a, o, _ in audit]


def test_cancellation_withdraws_the_results(lab: Lab) -> None:
    lab.hl7("oru_registered_two.hl7")
    resp = lab.hl7("oru_cancel.hl7")
    assert ack_of(resp)[0] == "AA"
    assert dict(lab.sql("SELECT specimen_id, status FROM lab_reports")) == {
        "2611230003": "cancelled",
        "2611230004": "registered",
    }
    # a result for a cancelled specimen is refused, and says why
    again = fixture_bytes("oru_lft_final.hl7").replace(b"2611230002", b"2611230003")
    resp = lab.hl7(again)
    assert resp.status_code == 422
    code, _, err = ack_of(resp)
    assert code == "AE" and "cancelled" in err


def test_preliminary_then_final_and_never_back(lab: Lab) -> None:
    assert ack_of(lab.hl7("oru_lft_preliminary.hl7"))[0] == "AA"
    assert lab.sql("SELECT status FROM lab_reports") == [("preliminary",)]
    assert ack_of(lab.hl7("oru_lft_final.hl7"))[0] == "AA"
    assert lab.sql("SELECT status FROM lab_reports") == [("final",)]
    assert len(lab.sql("SELECT * FROM lab_results")) == 5
    resp = lab.hl7("oru_lft_preliminary.hl7")
    assert ack_of(resp)[0] == "AE"
    assert lab.sql("SELECT status, version FROM lab_reports") == [("final", 2)]


def test_bad_messages_get_ae_or_ar_and_write_nothing(lab: Lab) -> None:
    resp = lab.hl7("oru_bad_status.hl7")
    assert resp.status_code == 422
    code, control, err = ack_of(resp)
    assert (code, control) == ("AE", "LIS20261123000160") and "OBR-25" in err
    resp = lab.hl7("adt_a01.hl7")
    assert resp.status_code == 400 and ack_of(resp)[0] == "AR"
    resp = lab.hl7(b"this is not HL7")
    assert resp.status_code == 400 and ack_of(resp)[0] == "AR"
    # one message, two specimens, the second broken: neither is stored (one transaction)
    good = fixture_bytes("oru_registered_two.hl7")
    broken = good.replace(
        b"||||||||||||||||||I\rORC|SC|ORD202611230004",
        b"||||||||||||||||||I\rORC|SC|ORD202611230004",
        1,
    )
    broken = broken.rsplit(b"|I", 1)[0] + b"|Z"
    resp = lab.hl7(broken)
    assert ack_of(resp)[0] == "AE"
    assert lab.sql("SELECT * FROM lab_reports") == []
    outcomes = [o for (o,) in lab.sql("SELECT outcome FROM lab_audit WHERE action = 'ingest'")]
    assert outcomes == ["error", "rejected", "rejected", "error"]


def test_hl7_in_gb18030(lab: Lab) -> None:
    text = fixture_bytes("oru_cbc_final.hl7").decode("utf-8")
    text = text.replace("UNICODE UTF-8", "GB 18030-2000")
    resp = lab.hl7(text.encode("gb18030"))
    assert resp.status_code == 200
    assert "charset=gb18030" in resp.headers["Content-Type"]
    assert lab.sql("SELECT patient_masked FROM lab_reports") == [("张*三",)]


def test_only_the_lis_may_send(lab: Lab) -> None:
    resp = lab.hl7("oru_cbc_final.hl7", headers=lab.kiosk1)
    assert resp.status_code == 403
    resp = lab.client.post("/api/v1/lab/hl7", data=b"MSH|", headers={"Content-Type": HL7})
    assert resp.status_code == 401
    resp = lab.client.post(
        "/api/v1/lab/hl7",
        data=fixture_bytes("oru_cbc_final.hl7"),
        headers={**lab.lis, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "request.invalid"


def test_fhir_contained_and_bundle(lab: Lab) -> None:
    resp = lab.fhir("fhir_glucose_contained.json")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [report] = resp.get_json()["reports"]
    assert report["status"] == "final" and report["created"] is True
    assert len(report["receipt_token"]) == 20
    resp = lab.fhir("fhir_bundle_rft.json")
    assert resp.status_code == 200
    rows = dict(lab.sql("SELECT specimen_id, status FROM lab_reports"))
    assert rows == {"2611230005": "final", "2611230006": "preliminary"}
    assert lab.sql(
        "SELECT value, unit, reference_range, flag FROM lab_results WHERE code = 'CREA'"
    ) == [("132", "umol/L", "41-111", "H")]
    assert lab.sql("SELECT patient_masked FROM lab_reports WHERE specimen_id = '2611230006'") == [
        ("孙*娟",)
    ]
    resp = lab.fhir("fhir_cancelled.json")
    assert resp.status_code == 200
    assert lab.sql("SELECT status FROM lab_reports WHERE specimen_id = '2611230005'") == [
        ("cancelled",)
    ]
    assert lab.sql(
        "SELECT count(*) FROM lab_results r JOIN lab_reports p ON p.id = r.report_id "
        "WHERE p.specimen_id = '2611230005'"
    ) == [(0,)]


def test_fhir_errors_are_4xx_with_a_reason(lab: Lab) -> None:
    resp = lab.fhir("fhir_bad_status.json")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "lab.message_rejected"
    assert "done" in resp.get_json()["error"]["message"]
    resp = lab.client.post(
        "/api/v1/lab/fhir",
        data=b'{"resourceType": "Patient"}',
        headers={**lab.lis, "Content-Type": "application/fhir+json"},
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "lab.message_invalid"
    assert lab.sql("SELECT * FROM lab_reports") == []


def test_desk_registration_returns_a_receipt_token_once(lab: Lab) -> None:
    body = {
        "specimen_id": "2611230100",
        "panel_code": "CBC",
        "patient_name": "王小明",
        "birth_date": "1990-01-02",
        "collected_at": "2026-11-23T09:00:00+08:00",
    }
    resp = lab.post("/lab/reports", body, lab.logins.staff)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    data = resp.get_json()
    assert data["status"] == "registered" and data["patient_masked"] == "王*明"
    assert data["expected_ready_at"] == "2026-11-23T09:30:00+08:00"
    token = data["receipt_token"]
    assert data["receipt_hint"] == token[-4:]
    assert lab.sql("SELECT token_hash FROM lab_reports")[0][0] != token
    again = lab.post("/lab/reports", body, lab.logins.staff)
    assert again.status_code == 400
    report = lab.get(f"/lab/reports/{data['id']}", lab.logins.staff).get_json()
    assert "receipt_token" not in report
    assert [a["action"] for a in report["audit"]] == ["ingest"]
