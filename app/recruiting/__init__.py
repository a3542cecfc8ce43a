"""Recruiting credits: what a member earns for the people its form or API key brings."""
