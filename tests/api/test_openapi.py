"""GET /api/v1/openapi.json: a well-formed OpenAPI 3.1 document that matches the routes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import API, Hall

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_PARAM = re.compile(r"<(?:([a-zA-Z_]+)(?:\(([^)]*)\))?:)?([a-zA-Z_]+)>")


@pytest.fixture
def doc(hall: Hall) -> dict[str, Any]:
    resp = hall.get("/openapi.json")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    return resp.get_json()


def _expand(rule: str) -> list[str]:
    """A Werkzeug rule as OpenAPI paths: <int:x> -> {x}; <any(a, b):v> -> one path per choice."""
    paths = [""]
    pos = 0
    for m in _PARAM.finditer(rule):
        literal = rule[pos : m.start()]
        converter, args, name = m.groups()
        if converter == "any":
            choices = [c.strip().strip("'\"") for c in (args or "").split(",")]
            paths = [p + literal + c for p in paths for c in choices]
        else:
            paths = [p + literal + "{" + name + "}" for p in paths]
        pos = m.end()
    return [p + rule[pos:] for p in paths]


def test_expand_rules() -> None:
    assert _expand("/api/v1/tickets/<int:ticket_id>") == ["/api/v1/tickets/{ticket_id}"]
    assert _expand("/api/v1/x/<a>/<any(b, 'c-d'):v>/y") == [
        "/api/v1/x/{a}/b/y",
        "/api/v1/x/{a}/c-d/y",
    ]


def _routes(hall: Hall) -> set[tuple[str, str]]:
    out = set()
    for rule in hall.app.url_map.iter_rules():
        if not rule.rule.startswith(API + "/"):
            continue
        if rule.rule == API + "/openapi.json":  # the document itself need not describe itself
            continue
        for path in _expand(rule.rule):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                out.add((method.lower(), path.removeprefix(API)))
    return out


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def test_document_is_openapi_3_1(doc: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert isinstance(doc["info"]["title"], str) and doc["info"]["title"]
    assert isinstance(doc["info"]["version"], str) and doc["info"]["version"]
    assert doc["servers"] == [{"url": API}]
    assert isinstance(doc["paths"], dict) and doc["paths"]
    assert set(doc) <= {
        "openapi",
        "info",
        "jsonSchemaDialect",
        "servers",
        "paths",
        "webhooks",
        "components",
        "security",
        "tags",
        "externalDocs",
    }


def test_every_operation_is_well_formed(doc: dict[str, Any]) -> None:
    schemes = set(doc.get("components", {}).get("securitySchemes", {}))
    operation_ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/") and not path.startswith(API), path
        assert "<" not in path and ">" not in path, path
        in_path = set(re.findall(r"{([^}]+)}", path))
        for method, op in item.items():
            assert method in METHODS | {"parameters", "summary", "description", "servers"}, method
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            assert op.get("summary") or op.get("description"), where
            responses = op["responses"]
            assert responses, where
            for status in responses:
                assert status == "default" or re.fullmatch(r"[1-5](\d\d|XX)", status), where
            assert any(s.startswith("2") for s in responses), where
            for status, resp in responses.items():
                assert isinstance(resp.get("description"), str), (where, status)
            params = op.get("parameters", []) + item.get("parameters", [])
            keys = [(p["name"], p["in"]) for p in params]
            assert len(keys) == len(set(keys)), where
            for p in params:
                assert p["in"] in ("path", "query", "header", "cookie"), where
                assert "schema" in p or "content" in p, where
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == in_path, where
            assert all(p["required"] is True for p in params if p["in"] == "path"), where
            if "requestBody" in op:
                assert op["requestBody"]["content"], where
            for requirement in op.get("security", []):
                assert set(requirement) <= schemes, where
            if "operationId" in op:
                operation_ids.append(op["operationId"])
    assert len(operation_ids) == len(set(operation_ids))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert refs, "expected the error schema to be shared by reference"
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, ref
            node = node[part]


def test_documents_every_route_and_nothing_else(hall: Hall, doc: dict[str, Any]) -> None:
    routes = _routes(hall)
    documented = _documented(doc)
    assert routes, "no /api/v1 routes found"
    assert sorted(routes - documented) == [], "routes missing from the document"
    assert sorted(documented - routes) == [], "documented but not served"


def test_the_action_verbs_are_documented_one_by_one(doc: dict[str, Any]) -> None:
    for verb in ("recall", "start", "finish", "no-show", "cancel", "send-for-tests", "return"):
        assert "post" in doc["paths"][f"/tickets/{{ticket_id}}/{verb}"], verb


def _public_paths(hall: Hall) -> set[str]:
    public = set()
    for rule in hall.app.url_map.iter_rules():
        view = hall.app.view_functions[rule.endpoint]
        if getattr(view, "roles", {"public": True}).get("public"):
            public.update(path.removeprefix(API) for path in _expand(rule.rule))
    return public


def test_security_matches_the_routes(hall: Hall, doc: dict[str, Any]) -> None:
    """An operation needs credentials in the document exactly when the route requires them."""
    public = _public_paths(hall)
    assert {"/health", "/services", "/auth/login"} <= public
    for path, item in doc["paths"].items():
        if path == "/follow/{token}":
            continue  # see test_follow_is_documented_as_public
        for method, op in item.items():
            if method in METHODS:
                assert bool(op.get("security")) == (path not in public), (method, path)


def test_follow_is_documented_as_public(hall: Hall, doc: dict[str, Any]) -> None:
    assert "/follow/{token}" in _public_paths(hall)
    assert not doc["paths"]["/follow/{token}"]["get"].get("security")


def test_documented_success_statuses_hold(hall: Hall, doc: dict[str, Any]) -> None:
    """The success status each documented operation declares is the one it answers with."""

    def status_of(method: str, path: str) -> str:
        return next(s for s in doc["paths"][path][method]["responses"] if s.startswith("2"))

    resp = hall.post("/tickets", {"service_id": "reg"}, hall.logins.kiosk)
    assert str(resp.status_code) == status_of("post", "/tickets")
    resp = hall.post(
        "/appointments",
        {"service_id": "im1", "slot_start": "2026-11-23T10:00:00+08:00"},
        hall.staff,
    )
    assert str(resp.status_code) == status_of("post", "/appointments")
    resp = hall.post("/devices", {"kind": "agent", "id": "agent-7"}, hall.logins.admin)
    assert str(resp.status_code) == status_of("post", "/devices")
    assert status_of("get", "/services") == "200"


def test_ticket_schema_lists_the_promised_fields(doc: dict[str, Any]) -> None:
    ticket = doc["components"]["schemas"]["Ticket"]
    promised = {
        "id",
        "number",
        "service_id",
        "status",
        "priority",
        "people_ahead",
        "estimated_wait_s",
        "issued_at",
        "follow_url",
    }
    assert promised <= set(ticket["properties"])
    schema = doc["paths"]["/tickets"]["post"]["responses"]["201"]["content"]["application/json"]
    assert schema["schema"] == ticket or schema["schema"].get("$ref") == (
        "#/components/schemas/Ticket"
    )


def test_error_schema_shape(doc: dict[str, Any]) -> None:
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    inner = error["properties"]["error"]
    assert set(inner["required"]) == {"code", "message"}
    codes = set(inner["properties"]["code"]["enum"])
    assert {
        "request.invalid",
        "auth.required",
        "auth.invalid_credentials",
        "auth.forbidden",
        "ticket.invalid_transition",
        "ticket.changed",
        "queue.empty",
        "counter.not_open",
        "numbering.range_exhausted",
        "request.idempotency_conflict",
        "priority.not_allowed",
        "service.not_found",
    } <= codes


def test_every_error_code_served_is_in_the_documented_enum(hall: Hall, doc: dict[str, Any]) -> None:
    codes = set(
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    )
    resp = hall.client.delete(API + "/services")
    assert resp.get_json()["error"]["code"] in codes
