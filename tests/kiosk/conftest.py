"""The kiosk page tests reuse the API tests' `hall` (demo hall on SQLite over the test client)."""

from tests.api.conftest import hall, hall_factory  # noqa: F401 (fixtures)
