"""The marketplace needs no actors of its own: importing its sweep registers it, so the
sweep job expires holds and releases missed deadlines on every tick."""

from app.marketplace import sweep  # noqa: F401
