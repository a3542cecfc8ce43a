"""Sharing agreements between members, member mailings and recruiting credits."""
