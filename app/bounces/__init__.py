"""Bounces and complaints: reports read, matched to the message they concern through
its VERP return path, and turned into suppressions (app/bounces/service.py)."""
