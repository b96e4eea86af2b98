"""FHIR R4 DiagnosticReport (with its Observations contained or in a Bundle) → IncomingMessage.

Resources are validated with the ``fhir.resources`` R4B models (R4B is wire-compatible with R4
for these resources). Profile (docs/lab-reports.md): the specimen barcode is the referenced
Specimen's ``accessionIdentifier`` (else the report's first ``identifier``); the order number is
``basedOn[0].identifier``; the panel is ``code.coding[0]``; the patient is ``subject``; results
are ``result`` → Observation with ``valueQuantity`` / ``valueString`` /
``valueCodeableConcept``, ``referenceRange`` and ``interpretation``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from .messages import (
    CANCELLED,
    FHIR_STATUS,
    IncomingMessage,
    IncomingReport,
    IncomingResult,
    MessageError,
    slip_flag,
)
from .tokens import normalize_birth_date


def parse_fhir(data: Any, tz: ZoneInfo) -> IncomingMessage:
    """A DiagnosticReport or a Bundle holding DiagnosticReports; raises MessageError."""
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise MessageError("send a FHIR resource: a JSON object with resourceType")
    kind = data["resourceType"]
    if kind not in ("DiagnosticReport", "Bundle"):
        raise MessageError(f"expected a DiagnosticReport or a Bundle, not {kind}", reject=True)
    try:
        resource = get_fhir_model_class(kind).model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MessageError(
            f"invalid {kind} at {where or kind}: {first.get('msg')}", location=where
        ) from None
    if kind == "Bundle":
        index: dict[str, Any] = {}
        reports = []
        for entry in resource.entry or []:
            res = entry.resource
            if res is None:
                continue
            name = res.get_resource_type()
            if entry.fullUrl:
                index[entry.fullUrl] = res
                tail = entry.fullUrl.rsplit("/", 2)
                if len(tail) == 3 and not entry.fullUrl.startswith("urn:"):
                    index[f"{tail[1]}/{tail[2]}"] = res
            if res.id:
                index[f"{name}/{res.id}"] = res
            if name == "DiagnosticReport":
                reports.append(res)
        if not reports:
            raise MessageError("the Bundle holds no DiagnosticReport", location="Bundle.entry")
        message_id = resource.id or (resource.identifier.value if resource.identifier else "")
        return IncomingMessage(
            message_id=(message_id or "bundle")[:64],
            source="fhir",
            reports=tuple(_report(r, index, tz) for r in reports),
        )
    index = {f"#{c.id}": c for c in resource.contained or [] if c.id}
    return IncomingMessage(
        message_id=(resource.id or "diagnosticreport")[:64],
        source="fhir",
        reports=(_report(resource, index, tz),),
    )


def _resolve(ref: Any, index: dict[str, Any], where: str) -> Any:
    key = getattr(ref, "reference", None)
    if not key:
        return None
    found = index.get(key)
    if found is None:
        raise MessageError(
            f"{where} refers to {key}, which is neither contained nor in the Bundle",
            location=where,
        )
    return found


def _moment(value: Any, tz: ZoneInfo) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=tz)
    return None


def _coding(concept: Any) -> tuple[str, str]:
    """(code, display) of a CodeableConcept's first coding, falling back to its text."""
    if concept is None:
        return "", ""
    for c in concept.coding or []:
        if c.code:
            return c.code, c.display or concept.text or c.code
    return "", concept.text or ""


def _report(dr: Any, index: dict[str, Any], tz: ZoneInfo) -> IncomingReport:
    status = FHIR_STATUS.get(dr.status or "")
    if status is None:
        raise MessageError(
            f"DiagnosticReport.status {dr.status!r} is not one of {', '.join(FHIR_STATUS)}",
            location="DiagnosticReport.status",
            hl7_code=103,
        )
    specimen_id = ""
    collected = None
    for i, ref in enumerate(dr.specimen or []):
        spec = _resolve(ref, index, f"DiagnosticReport.specimen[{i}]")
        if spec is not None and spec.accessionIdentifier and spec.accessionIdentifier.value:
            specimen_id = spec.accessionIdentifier.value
            if spec.collection is not None:
                collected = _moment(spec.collection.collectedDateTime, tz)
            break
    if not specimen_id and dr.identifier:
        specimen_id = dr.identifier[0].value or ""
    if not specimen_id:
        raise MessageError(
            "no specimen barcode: Specimen.accessionIdentifier or DiagnosticReport.identifier",
            location="DiagnosticReport.specimen",
            hl7_code=101,
        )
    order_id = None
    for based in dr.basedOn or []:
        if based.identifier is not None and based.identifier.value:
            order_id = based.identifier.value
            break
    panel_code, panel_name = _coding(dr.code)
    patient = _resolve(dr.subject, index, "DiagnosticReport.subject") if dr.subject else None
    results: list[IncomingResult] = []
    if status != CANCELLED:
        for i, ref in enumerate(dr.result or []):
            where = f"DiagnosticReport.result[{i}]"
            obs = _resolve(ref, index, where)
            if obs is None or obs.get_resource_type() != "Observation":
                raise MessageError(f"{where} is not an Observation", location=where)
            results.append(_result(obs, where))
    return IncomingReport(
        specimen_id=specimen_id[:64],
        status=status,
        order_id=(order_id or None) and order_id[:64],
        panel_code=panel_code[:32] or None,
        panel_name=panel_name[:128] or None,
        **_patient(patient),
        collected_at=collected or _moment(dr.effectiveDateTime, tz),
        reported_at=_moment(dr.issued, tz),
        results=tuple(results),
    )


def _patient(p: Any) -> dict[str, Any]:
    if p is None or p.get_resource_type() != "Patient":
        return {}
    name = ""
    for n in p.name or []:
        if n.text:
            name = n.text
        else:
            family, given = n.family or "", "".join(n.given or [])
            cjk = any("\u3400" <= c <= "\u9fff" for c in family + given)
            name = family + given if cjk else f"{' '.join(n.given or [])} {family}".strip()
        if name:
            break
    phone = next((t.value for t in p.telecom or [] if t.system == "phone" and t.value), None)
    ident = next((i.value for i in p.identifier or [] if i.value), None)
    return {
        "patient_name": name or None,
        "patient_id": ident,
        "birth_date": normalize_birth_date(p.birthDate) if p.birthDate else None,
        "phone": phone,
    }


def _number(v: Any) -> str:
    text = format(v, "f") if hasattr(v, "as_tuple") else str(v)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _result(obs: Any, where: str) -> IncomingResult:
    code, name = _coding(obs.code)
    if not code:
        raise MessageError(f"{where}: Observation.code has no code", location=where, hl7_code=101)
    unit = ""
    if obs.valueQuantity is not None:
        value = _number(obs.valueQuantity.value) if obs.valueQuantity.value is not None else ""
        unit = obs.valueQuantity.unit or obs.valueQuantity.code or ""
    elif obs.valueString is not None:
        value = obs.valueString
    elif obs.valueCodeableConcept is not None:
        value = _coding(obs.valueCodeableConcept)[1]
    else:
        value = ""
    ref = ""
    if obs.referenceRange:
        rr = obs.referenceRange[0]
        if rr.text:
            ref = rr.text
        elif rr.low is not None or rr.high is not None:
            low = _number(rr.low.value) if rr.low is not None and rr.low.value is not None else ""
            high = (
                _number(rr.high.value) if rr.high is not None and rr.high.value is not None else ""
            )
            ref = f"{low}-{high}" if low and high else (f">={low}" if low else f"<={high}")
    flag = ""
    if obs.interpretation:
        flag = slip_flag(_coding(obs.interpretation[0])[0])
    return IncomingResult(
        code=code[:32],
        name=(name or code)[:128],
        value=str(value)[:128],
        unit=unit[:32],
        reference_range=ref[:64],
        flag=flag,
        status={"final": "F", "corrected": "C", "amended": "C", "preliminary": "P"}.get(
            obs.status or "", "F"
        ),
    )
