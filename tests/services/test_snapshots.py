"""The shared display snapshot: reused at the same versions, rebuilt on a change or with age."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.services import views
from queue_server.services.lines import bump_versions
from queue_server.services.snapshots import SnapshotCache
from tests.conftest import Logins

T0 = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)


class Versions:
    """A fake database: the versions now, and how often they and snapshots were read."""

    def __init__(self) -> None:
        self.now = {"reg": 1}
        self.reads = 0
        self.builds = 0

    def current(self) -> dict[str, int]:
        self.reads += 1
        return dict(self.now)

    def build(self) -> dict[str, Any]:
        self.builds += 1
        return {"versions": dict(self.now), "n": self.builds}


def test_same_versions_share_one_build_until_it_is_too_old() -> None:
    cache, db = SnapshotCache(max_age_s=1.0), Versions()
    first = cache.get("hall", db.current, db.build, T0)
    assert first["n"] == 1 and db.reads == 0  # nothing cached: built without asking
    again = cache.get("hall", db.current, db.build, T0 + dt.timedelta(seconds=0.9))
    assert again is first and db.builds == 1 and db.reads == 1
    old = cache.get("hall", db.current, db.build, T0 + dt.timedelta(seconds=1.0))
    assert old["n"] == 2  # a second after it was built: built again, versions or not
    assert (cache.hits, cache.builds) == (1, 2)


def test_a_version_change_builds_again_and_displays_are_apart() -> None:
    cache, db = SnapshotCache(max_age_s=5.0), Versions()
    hall = cache.get("hall", db.current, db.build, T0)
    door = cache.get("door", db.current, db.build, T0)
    assert (hall["n"], door["n"]) == (1, 2)
    db.now = {"reg": 2}
    fresh = cache.get("hall", db.current, db.build, T0)
    assert fresh["n"] == 3 and fresh["versions"] == {"reg": 2}
    assert cache.get("hall", db.current, db.build, T0) is fresh
    db.now = {"reg": 2, "blood": 1}  # a service's first version appears
    assert cache.get("hall", db.current, db.build, T0)["n"] == 4


def test_an_older_build_never_replaces_a_newer_one() -> None:
    cache, db = SnapshotCache(max_age_s=5.0), Versions()
    db.now = {"reg": 5}
    cache.get("hall", db.current, db.build, T0)
    db.now = {"reg": 6}

    def slow_build() -> dict[str, Any]:
        # it read the database at version 5; meanwhile another screen's request built 6
        newer = cache.get("hall", db.current, db.build, T0)
        assert newer["versions"] == {"reg": 6}
        return {"versions": {"reg": 5}, "n": "slow"}

    assert cache.get("hall", db.current, slow_build, T0)["n"] == "slow"
    kept = cache.get("hall", db.current, db.build, T0)
    assert kept["versions"] == {"reg": 6} and kept["n"] == 2 and db.builds == 2


def test_screens_share_the_snapshot_and_a_call_shows_at_once(
    app: Flask, logins: Logins, clock: ManualClock
) -> None:
    ctx = hall_of(app)
    client = app.test_client()
    assert (
        client.post(
            "/api/v1/counters/reg-1/state", json={"state": "open"}, headers=logins.staff
        ).status_code
        == 200
    )
    for _ in range(3):
        resp = client.post("/api/v1/tickets", json={"service_id": "reg"}, headers=logins.staff)
        assert resp.status_code == 201
    builds = ctx.snapshots.builds
    first = views.display_snapshot(ctx, "hall")
    for _ in range(5):  # five more screens of the hall, same versions: the same snapshot
        assert views.display_snapshot(ctx, "hall") is first
    assert ctx.snapshots.builds == builds + 1
    assert [t["number"] for t in first["next"]][:3] == ["A001", "A002", "A003"]
    resp = client.post("/api/v1/counters/reg-1/call-next", headers=logins.staff)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    after = views.display_snapshot(ctx, "hall")  # the call bumped reg's version: built again
    assert after["versions"]["reg"] > first["versions"]["reg"]
    assert [c["ticket"]["number"] for c in after["now_calling"]] == ["A001"]
    clock.advance(seconds=1)  # the age bound on the hall's clock
    assert views.display_snapshot(ctx, "hall") is not after


def test_following_deliveries_a_young_snapshot_that_covers_them_is_served_without_a_read() -> None:
    cache, db = SnapshotCache(max_age_s=5.0), Versions()
    delivered = cache.follow_deliveries()
    first = cache.get("hall", db.current, db.build, T0, services=["reg"])
    db.now = {"reg": 4}  # committed, but no screen was told yet (a merged queue.changed)
    assert cache.get("hall", db.current, db.build, T0, services=["reg"]) is first
    assert db.reads == 0 and db.builds == 1
    delivered("queue.changed", {"service_id": "reg", "version": 4, "from_version": 1})
    fresh = cache.get("hall", db.current, db.build, T0, services=["reg"])
    assert fresh["versions"] == {"reg": 4} and db.builds == 2  # a screen may know 4: rebuilt
    assert cache.get("hall", db.current, db.build, T0, services=["reg"]) is fresh
    assert db.reads == 1  # the rebuild was decided by reading the versions once
    # a call names its service in its ticket; the display's other services count too
    delivered("ticket.called", {"version": 5, "ticket": {"service_id": "reg"}})
    db.now = {"reg": 5}
    assert cache.get("hall", db.current, db.build, T0, services=["reg"])["n"] == 3
    delivered("queue.changed", {"service_id": "lab", "version": 1})
    db.now = {"reg": 5, "lab": 1}
    assert cache.get("hall", db.current, db.build, T0, services=["reg", "lab"])["n"] == 4
    # too old for the age bound: built again even though it covers every delivery
    later = T0 + dt.timedelta(seconds=5)
    assert cache.get("hall", db.current, db.build, later, services=["reg", "lab"])["n"] == 5


def test_deliveries_without_a_version_or_a_service_and_lower_versions_change_nothing() -> None:
    cache, db = SnapshotCache(max_age_s=5.0), Versions()
    delivered = cache.follow_deliveries()
    db.now = {"reg": 3}
    first = cache.get("hall", db.current, db.build, T0)
    for payload in (
        {"versions": {"reg": 9}},  # a snapshot answer
        {"service_id": "reg"},
        {"service_id": "reg", "version": "9"},
        {"version": 9, "ticket": "A001"},
        ["reg", 9],
        {"service_id": "reg", "version": 2},  # older than the snapshot
    ):
        delivered("x", payload)
    db.now = {"reg": 7}
    assert cache.get("hall", db.current, db.build, T0) is first and db.reads == 0


def test_in_the_app_a_commit_no_screen_was_told_of_keeps_the_snapshot(
    app: Flask, logins: Logins, clock: ManualClock
) -> None:
    """The app follows what its client manager delivers to /display: an issue (its
    queue.changed delivered at once with the tests' window of 0) builds again, a version bump
    that no event told reuses the snapshot."""
    ctx = hall_of(app)
    client = app.test_client()
    first = views.display_snapshot(ctx, "hall")
    resp = client.post("/api/v1/tickets", json={"service_id": "reg"}, headers=logins.staff)
    assert resp.status_code == 201
    after = views.display_snapshot(ctx, "hall")
    assert after["versions"]["reg"] == first["versions"]["reg"] + 1
    assert [t["number"] for t in after["next"]] == [resp.get_json()["number"]]
    ctx.db.run(lambda s: bump_versions(s, ["reg"]))  # committed, never published
    hits = ctx.snapshots.hits
    assert views.display_snapshot(ctx, "hall") is after
    assert ctx.snapshots.hits == hits + 1
