"""Reading the member forms (apply, profile) into their models, keeping what was typed.

A form that fails validation is re-shown with each bad field marked and every value
kept, so nothing the person typed is lost.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import ValidationError
from sqlmodel import SQLModel
from starlette.datastructures import FormData

from app.i18n import format_number, lazy_gettext
from app.i18n import gettext as _
from app.members import codes
from app.members.models import unpack
from app.members.schemas import PUBLIC_SWITCHES, SHOW_FIELDS


async def read_form(request: Request) -> FormData:
    return await request.form()


# Lets a sync route (which runs its database work off the event loop) take the form.
FormDep = Annotated[FormData, Depends(read_form)]

ModelT = TypeVar("ModelT", bound=SQLModel)

PROFILE_TEXT_FIELDS = (
    "name",
    "website",
    "description",
    "kind",
    "country",
    "region",
    "city",
    "contact_email",
    "founded_year",
    "languages",
    "offer",
    "logo_url",
)
# Shown in the reader's language (lazy: read when a page or an email is made).
FIELD_LABELS: dict[str, Any] = {
    "name": lazy_gettext("Name"),
    "slug": lazy_gettext("Web address"),
    "website": lazy_gettext("Website"),
    "description": lazy_gettext("Description"),
    "kind": lazy_gettext("Kind of co-op"),
    "sectors": lazy_gettext("Sectors"),
    "country": lazy_gettext("Country"),
    "region": lazy_gettext("Region"),
    "city": lazy_gettext("City"),
    "contact_email": lazy_gettext("Public contact address"),
    "founded_year": lazy_gettext("Year founded"),
    "languages": lazy_gettext("Languages"),
    "offer": lazy_gettext("What you offer other co-ops"),
    "logo_url": lazy_gettext("Logo address"),
    "owner_email": lazy_gettext("Your email address"),
    "owner_name": lazy_gettext("Your name"),
}


# The change log's names for the switches: "City (shown in the directory)".
CHANGE_LABELS: dict[str, Any] = FIELD_LABELS | {
    switch: lazy_gettext("%(field)s (shown in the directory)", field=FIELD_LABELS[field])
    for field, switch in PUBLIC_SWITCHES.items()
}


def form_values(form: FormData, text_fields: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(form.get(name) or "") for name in text_fields}
    # An unticked checkbox is simply absent from the form.
    values.update({name: form.get(name) == "on" for name in SHOW_FIELDS})
    values["sectors"] = [str(code) for code in form.getlist("sectors")]
    return values


def plain_words(error: Any, value: object) -> str:
    """A validation error as a sentence a person understands (pydantic's are for us)."""
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "string_too_long":
        if isinstance(value, str):
            return _(
                "keep it to %(max)s characters; this has %(count)s",
                max=format_number(ctx["max_length"]),
                count=format_number(len(value)),
            )
        return _("keep it to %(max)s characters", max=format_number(ctx["max_length"]))
    if kind == "string_too_short":
        return (
            _("fill this in")
            if ctx.get("min_length") == 1
            else _("give at least %(min)s characters", min=format_number(ctx["min_length"]))
        )
    if kind == "missing":
        return _("fill this in")
    return str(error["msg"]).removeprefix("Value error, ")


def validate(model: type[ModelT], values: dict[str, Any]) -> tuple[ModelT | None, dict[str, str]]:
    """The model, or every problem at once by field, each in plain words."""
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "form"
            message = plain_words(error, values.get(field))
            label = FIELD_LABELS.get(field, field)
            errors.setdefault(field, _("%(label)s: %(problem)s.", label=label, problem=message))
        return None, errors


def profile_values(member: Any) -> dict[str, Any]:
    """A saved member's profile as the form shows it."""
    values = {name: getattr(member, name) or "" for name in PROFILE_TEXT_FIELDS} | {
        name: bool(getattr(member, name)) for name in SHOW_FIELDS
    }
    values["languages"] = ", ".join(unpack(member.languages))
    values["founded_year"] = str(member.founded_year or "")
    values["sectors"] = unpack(member.sectors)
    return values


def profile_choices(country: str) -> dict[str, Any]:
    """The lists the profile form offers: kinds, sectors, countries, and the regions of
    the chosen country (by code or name, as typed)."""
    try:
        code = codes.parse_country(country) if country else ""
    except ValueError:
        code = ""
    return {
        "kinds": codes.kind_names(),
        "sectors": codes.sector_names(),
        "countries": codes.country_labels(),
        "regions": {r: codes.region_label(r) for r in codes.regions(code)} if code else {},
        "max_sectors": codes.MAX_SECTORS,
    }
