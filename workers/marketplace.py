"""The marketplace needs no actors of its own: importing its sweep registers it, so the
sweep job expires holds and releases missed deadlines on every tick; importing its
payment events lets bookings take payment events wherever they are delivered."""

from app.marketplace import payment_events, sweep  # noqa: F401
