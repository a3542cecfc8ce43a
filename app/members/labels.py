"""Codes as people read them, in their language, for the directory's templates
(`labels.kind(code)`, ...)."""

from __future__ import annotations

from app.members import codes


class Labels:
    @staticmethod
    def kind(code: str | None) -> str:
        return codes.kind_name(code)

    @staticmethod
    def sector(code: str) -> str:
        return codes.sector_name(code)

    @staticmethod
    def country(code: str | None) -> str:
        return codes.country_label(code)

    @staticmethod
    def region(code: str | None) -> str:
        return codes.region_label(code)

    @staticmethod
    def language(tag: str) -> str:
        return codes.language_label(tag)

    def place(self, member: object) -> str:
        """City, region, country: what the member publishes of them."""
        parts = [
            getattr(member, "city", None),
            self.region(getattr(member, "region", None)),
            self.country(getattr(member, "country", None)),
        ]
        return ", ".join(p for p in parts if p)


LABELS = Labels()
