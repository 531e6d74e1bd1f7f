"""Shared by every test directory: this file's directory, ``tests/``, is on the import path
(pytest's default ``prepend`` import mode puts a rootless conftest's directory there), so
tests import the shared helpers by name: ``from waiting import wait_until``."""
