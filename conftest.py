"""Fixtures for every test folder live in tests/kokunen_testing (see pyproject's pytest pythonpath)."""

pytest_plugins = ["kokunen_testing.fixtures"]
