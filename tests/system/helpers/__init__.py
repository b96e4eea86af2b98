"""Helpers for the system tests: worker processes, a real server, database checks."""
