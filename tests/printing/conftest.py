"""Fixtures of the print-pipeline tests: the API `Hall` helpers of tests/api."""

from tests.api.conftest import any_hall, hall  # noqa: F401  (fixtures)
