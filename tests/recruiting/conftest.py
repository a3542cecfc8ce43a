"""The real uvicorn server the security tests use, for the recruiting races."""

from tests.security.conftest import live_server  # noqa: F401
