"""The console tests reuse the API tests' `Hall` fixtures (SQLite, and SQLite + PostgreSQL)."""

from tests.api.conftest import any_hall, hall, hall_factory  # noqa: F401
