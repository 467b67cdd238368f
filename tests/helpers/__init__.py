"""Helpers shared by the tests (no tests here: pytest does not collect this package)."""
