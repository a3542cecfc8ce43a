"""The newsletter settings form: what an admin may set, checked before anything is stored."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError, field_validator
from sqlmodel import Session, col, select

from app.config import get_settings
from app.i18n import LANGUAGES
from app.i18n import gettext as _
from app.mailing.alignment import alignment_problem
from app.newsletters.models import Newsletter, NewsletterBase
from app.one_line_text import one_line
from app.payments.money import parse_price

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class NewsletterForm(NewsletterBase):
    """What the newsletter form may set, checked before anything is stored."""

    @field_validator("name", "sender_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(_("this cannot be empty"))
        one_line(value)
        return value.strip()

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        value = value.strip().lower()
        if not SLUG_PATTERN.match(value):
            raise ValueError(
                _("use lowercase letters, digits and single hyphens, e.g. co-op-commons")
            )
        return value

    @field_validator("sender_address", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return validate_email(value.strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("sponsor_price", "classified_price", mode="before")
    @classmethod
    def _price(cls, value: object) -> object:
        # Typed in major units, like every price field ("250.00"); stored in cents.
        return parse_price(value) if isinstance(value, str) else value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(_("choose one of: %(languages)s", languages=", ".join(LANGUAGES)))
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError(_("use a three-letter currency code such as CAD"))
        return value.upper()


def read_newsletter_form(
    session: Session, fields: dict[str, str], *, newsletter_id: int | None
) -> tuple[dict[str, object], dict[str, str]]:
    """Validate a submitted form: (values, errors by field). Nothing is changed."""
    raw: dict[str, object] = {
        name: fields.get(name, "") for name in NewsletterForm.model_fields if name in fields
    }
    try:
        form = NewsletterForm.model_validate(raw)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): e["msg"].removeprefix("Value error, ") for e in exc.errors()}
        return raw, errors
    values = form.model_dump()
    if not values.get("sender_address"):
        return values, {"sender_address": _("give the address the newsletter is sent from")}
    errors = {}
    problem = alignment_problem(str(values["sender_address"]), get_settings())
    if problem:
        errors["sender_address"] = problem
    clash = session.exec(
        select(Newsletter.id).where(
            Newsletter.slug == values["slug"], col(Newsletter.id) != (newsletter_id or -1)
        )
    ).first()
    if clash is not None:
        errors["slug"] = _("another newsletter already uses this slug")
    return values, errors
