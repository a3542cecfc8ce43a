"""Newsletters and their issues: composing, previewing, scheduling, the public archive."""
