"""What a member says about itself (the profile form, an application) and the shapes
the API shows a member in: the public directory's and the member's own."""

from __future__ import annotations

import re
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationInfo, field_validator, model_validator
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import ngettext
from app.members import codes
from app.members.models import (
    RESERVED_SLUGS,
    SLUG_PATTERN,
    Member,
    MemberBase,
    MemberStatus,
    pack,
    unpack,
)
from app.one_line_text import one_line


def _blank_to_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^\s/]+\.[^\s]+$", value):
        raise ValueError(_("enter a full web address starting with https://"))
    return value


def _https_url(value: str | None) -> str | None:
    """Images are shown on our pages, whose policy loads only https images."""
    value = _http_url(value)
    if value is not None and not value.startswith("https://"):
        raise ValueError(_("the logo must be at an https:// address (http:// images are blocked)"))
    return value


SHOW_FIELDS = (
    "show_website",
    "show_description",
    "show_kind",
    "show_region",
    "show_logo",
    "show_country",
    "show_city",
    "show_contact",
    "show_founded",
    "show_languages",
    "show_offer",
    "show_sectors",
)


class MemberProfile(SQLModel):
    """What a member says about itself, and which of it the public directory shows."""

    name: str = Field(min_length=2, max_length=200)
    website: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=2000)
    kind: str | None = Field(default=None, max_length=80)
    country: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    city: str | None = Field(default=None, max_length=120)
    contact_email: str | None = Field(default=None, max_length=320)
    founded_year: int | None = None
    languages: list[str] = Field(default_factory=list)
    offer: str | None = Field(default=None, max_length=500)
    sectors: list[str] = Field(default_factory=list)
    logo_url: str | None = Field(default=None, max_length=500)
    show_website: bool = False
    show_description: bool = False
    show_kind: bool = False
    show_region: bool = False
    show_logo: bool = False
    show_country: bool = False
    show_city: bool = False
    show_contact: bool = False
    show_founded: bool = False
    show_languages: bool = False
    show_offer: bool = False
    show_sectors: bool = False

    @field_validator("name", mode="before")
    @classmethod
    def _strip_name(cls, value: object) -> object:
        return one_line(value.strip() if isinstance(value, str) else value)

    @field_validator(
        "website",
        "description",
        "kind",
        "country",
        "region",
        "city",
        "contact_email",
        "offer",
        "logo_url",
        mode="before",
    )
    @classmethod
    def _optional_text(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("city", "offer", mode="before")
    @classmethod
    def _one_line(cls, value: object) -> object:
        return one_line(value) if isinstance(value, str) else value

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        return _https_url(value)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str | None) -> str | None:
        if value is not None and value not in codes.KINDS:
            raise ValueError(_("choose one of the kinds in the list"))
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return codes.parse_country(value) if value is not None else None

    @field_validator("contact_email")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValueError(_("enter an email address like info@your-coop.example")) from None

    @field_validator("founded_year", mode="before")
    @classmethod
    def _year(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.strip().isdigit():
                raise ValueError(_("enter the year as four digits, e.g. 1978"))
            value = int(value)
        if isinstance(value, int) and not 1750 <= value <= utcnow().year:
            raise ValueError(_("enter a year between 1750 and %(year)s", year=str(utcnow().year)))
        return value

    @field_validator("sectors", mode="before")
    @classmethod
    def _sectors(cls, value: object) -> object:
        if isinstance(value, str):
            value = codes.split_list(value)
        if isinstance(value, list):
            unknown = [v for v in value if v not in codes.SECTORS]
            if unknown:
                raise ValueError(_("choose sectors from the list"))
            if len(set(value)) > codes.MAX_SECTORS:
                raise ValueError(
                    ngettext(
                        "choose at most %(num)s sector",
                        "choose at most %(num)s sectors",
                        codes.MAX_SECTORS,
                    )
                )
            return [code for code in codes.SECTORS if code in value]
        return value

    @field_validator("languages", mode="before")
    @classmethod
    def _languages(cls, value: object) -> object:
        if isinstance(value, str):
            value = codes.split_list(value)
        if isinstance(value, list):
            tags = list(dict.fromkeys(codes.parse_language(str(v)) for v in value))
            if len(tags) > codes.MAX_LANGUAGES:
                raise ValueError(
                    ngettext(
                        "list at most %(num)s language",
                        "list at most %(num)s languages",
                        codes.MAX_LANGUAGES,
                    )
                )
            return tags
        return value

    @field_validator("region")
    @classmethod
    def _region_of_country(cls, value: str | None, info: ValidationInfo) -> str | None:
        # `country` is declared first, so it is checked (and in `info.data`) by now.
        if value is None:
            return None
        if "country" not in info.data:
            raise ValueError(_("choose a valid country first: a region belongs to a country"))
        return codes.parse_region(value, info.data["country"])

    @model_validator(mode="after")
    def _country_of_region(self) -> MemberProfile:
        if self.region is not None and self.country is None:
            self.country = self.region.split("-", 1)[0]
        return self

    def stored(self) -> dict[str, object]:
        """The profile as Member columns (lists packed)."""
        values = self.model_dump()
        values["sectors"] = pack(self.sectors)
        values["languages"] = pack(self.languages)
        return values


class MemberApplication(MemberProfile):
    """The public "apply to join" form: the co-op, its web address slug, and its owner."""

    slug: str = Field(max_length=80)
    owner_email: str = Field(max_length=320)
    owner_name: str = Field(default="", max_length=120)

    @field_validator("owner_name", mode="before")
    @classmethod
    def _one_line_name(cls, value: object) -> object:
        return one_line(value)

    @field_validator("slug", mode="before")
    @classmethod
    def _slug(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            if not SLUG_PATTERN.match(value):
                raise ValueError(
                    _("use 2 to 80 lowercase letters, digits and dashes, e.g. riverside-food")
                )
            if value in RESERVED_SLUGS:
                raise ValueError(_("this address is taken by the directory itself; choose another"))
        return value


# Each directory field and the switch that publishes it (the name is always public).
PUBLIC_SWITCHES: dict[str, str] = {
    "website": "show_website",
    "description": "show_description",
    "kind": "show_kind",
    "sectors": "show_sectors",
    "country": "show_country",
    "region": "show_region",
    "city": "show_city",
    "contact_email": "show_contact",
    "founded_year": "show_founded",
    "languages": "show_languages",
    "offer": "show_offer",
    "logo_url": "show_logo",
}


class MemberPublic(SQLModel):
    """A member as the public directory shows it: unpublished fields are null. Codes,
    not labels: `kind` and `sectors` from /members/codes, `country` ISO 3166-1
    alpha-2, `region` ISO 3166-2, `languages` BCP 47 tags."""

    name: str
    slug: str
    website: str | None = None
    description: str | None = None
    kind: str | None = None
    sectors: list[str] | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    contact_email: str | None = None
    founded_year: int | None = None
    languages: list[str] | None = None
    offer: str | None = None
    logo_url: str | None = None

    @classmethod
    def of(cls, member: Member) -> MemberPublic:
        values: dict[str, object] = {"name": member.name, "slug": member.slug}
        for field, switch in PUBLIC_SWITCHES.items():
            if getattr(member, switch):
                value = getattr(member, field)
                values[field] = unpack(value) if field in ("sectors", "languages") else value
        return cls.model_validate(values)


class MemberSelf(MemberBase):
    """A member as its own accounts and API keys see it."""

    id: int
    status: MemberStatus
    created_at: datetime
    sectors: list[str] = []  # type: ignore[assignment]
    languages: list[str] = []  # type: ignore[assignment]

    @field_validator("sectors", "languages", mode="before")
    @classmethod
    def _unpacked(cls, value: object) -> object:
        return unpack(value) if value is None or isinstance(value, str) else value
