"""The kiosk, follow and information pages as the server renders them (Flask test client)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.api.conftest import Hall, follow_token, site_with


def page_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="kiosk-config" type="application/json">(.*?)</script>', html)
    assert found, html[:500]
    return json.loads(found[1])


def test_kiosk_page_carries_its_kiosk_services_and_self_declared_priorities(hall: Hall) -> None:
    resp = hall.client.get("/kiosk/kiosk-1")
    assert resp.status_code == 200
    config = page_config(resp.get_data(as_text=True))
    assert config["kiosk"] == {
        "id": "kiosk-1",
        "name": "大厅1号自助机",
        "printer_id": "kiosk-1-printer",
    }
    assert [s["id"] for s in config["services"]] == list(hall.ctx.site.services)
    blood = next(s for s in config["services"] if s["id"] == "blood")
    assert blood["name"] == {"zh": "抽血", "en": "Blood Draw"}
    assert blood["location"]["zh"] == "一楼东侧 抽血室"
    # green channel is staff-only (self_declared = false); normal is the default, not a choice
    assert [p["id"] for p in config["priorities"]] == ["military", "elderly", "disabled"]
    assert config["idle_timeout_s"] == 60
    assert config["offline_after_s"] == 3
    # no token or secret in the page: the device token lives in the browser only
    assert "Bearer" not in resp.get_data(as_text=True)


def test_timeouts_can_be_shortened_in_the_url(hall: Hall) -> None:
    config = page_config(hall.client.get("/kiosk/kiosk-1?idle=2&offline=1").get_data(as_text=True))
    assert (config["idle_timeout_s"], config["offline_after_s"]) == (2, 1)
    for bad in ("0", "-1", "x", "99999"):
        config = page_config(hall.client.get(f"/kiosk/kiosk-1?idle={bad}").get_data(as_text=True))
        assert config["idle_timeout_s"] == 60


def test_unknown_kiosk_is_404(hall: Hall) -> None:
    assert hall.client.get("/kiosk/kiosk-99").status_code == 404


def test_static_files_are_served_locally(hall: Hall) -> None:
    html = hall.client.get("/kiosk/kiosk-1").get_data(as_text=True)
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    for name in ("kiosk.js", "strings.js", "kiosk.css", "follow.js", "follow.css", "info.css"):
        resp = hall.client.get(f"/kiosk/static/{name}")
        assert resp.status_code == 200, name
        resp.close()


def test_priority_declaration_can_be_switched_off(hall_factory: Any, tmp_path: Any) -> None:
    site = site_with(tmp_path, "priority_declaration = true", "priority_declaration = false")
    h = hall_factory(site)
    config = page_config(h.client.get("/kiosk/kiosk-2").get_data(as_text=True))
    assert config["priorities"] == []


def test_follow_page_shows_number_place_and_no_name(hall: Hall) -> None:
    hall.set_counter("reg-1", "open")
    hall.issue("reg", patient_name="张小三")
    ticket = hall.issue("reg", patient_name="欧阳小明")
    resp = hall.client.get(f"/follow/{follow_token(ticket)}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert ticket["number"] in html
    assert 'id="f-ahead">1<' in html
    assert "张" not in html and "欧阳" not in html and "*" not in html.split("<main", 1)[1]
    assert resp.headers["Content-Type"].startswith("text/html")
    assert 'name="referrer" content="no-referrer"' in html


def test_follow_page_of_an_unknown_token_is_404(hall: Hall) -> None:
    resp = hall.client.get("/follow/not-a-real-token")
    assert resp.status_code == 404
    assert "找不到这张号票" in resp.get_data(as_text=True)


def test_follow_page_has_the_rating_include_point(hall: Hall) -> None:
    from pathlib import Path

    import kiosk

    template = Path(kiosk.__file__).parent / "templates" / "kiosk" / "follow.html"
    text = template.read_text(encoding="utf-8")
    assert "{% block rating %}" in text and "metrics/follow_rating.html" in text


def test_follow_qr_is_an_svg_of_the_absolute_link(hall: Hall) -> None:
    ticket = hall.issue("reg")
    resp = hall.client.get(f"/follow/{follow_token(ticket)}/qr.svg")
    assert resp.status_code == 200
    assert resp.mimetype == "image/svg+xml"
    body = resp.get_data(as_text=True)
    assert body.startswith("<svg") or body.startswith("<?xml")
    assert "<path" in body
    assert hall.client.get("/follow/nope/qr.svg").status_code == 404


def test_info_pages_from_the_site_file(hall: Hall) -> None:
    departments = hall.client.get("/info").get_data(as_text=True)
    assert "检验科 抽血室" in departments and "2F" in departments
    prices = hall.client.get("/info/prices").get_data(as_text=True)
    assert "普通门诊诊查费" in prices and "¥10.00" in prices and "¥58.50" in prices
    hours = hall.client.get("/info/hours?lang=en").get_data(as_text=True)
    assert "Blood Draw" in hours and "07:00 \u2013 11:30" in hours and 'lang="en"' in hours
    assert hall.client.get("/info/nothing").status_code == 404


def test_info_page_on_a_kiosk_links_back_and_returns_when_idle(hall: Hall) -> None:
    html = hall.client.get("/info/prices?kiosk=kiosk-1&idle=5").get_data(as_text=True)
    assert 'data-back="/kiosk/kiosk-1?idle=5"' in html
    assert 'data-idle="5"' in html
    plain = hall.client.get("/info/prices?kiosk=../../etc").get_data(as_text=True)
    assert "data-back" not in plain
