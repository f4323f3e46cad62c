"""Test support shared by every test folder (on sys.path through pytest's ``pythonpath``)."""
