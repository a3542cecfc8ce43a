"""The consent tests use the e2e suite's live server for the monitor (it speaks HTTP)."""

from tests.e2e.conftest import live_server  # noqa: F401
