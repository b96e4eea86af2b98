"""The API test helpers (``hall``, ``any_hall``) for the displays, pairing and voice tests."""

from tests.api.conftest import any_hall, hall  # noqa: F401  (fixtures)
