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

from app.members import codes
from app.members.models import SHOW_FIELDS, unpack


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
FIELD_LABELS = {
    "name": "Name",
    "slug": "Web address",
    "website": "Website",
    "description": "Description",
    "kind": "Kind of co-op",
    "sectors": "Sectors",
    "country": "Country",
    "region": "Region",
    "city": "City",
    "contact_email": "Public contact address",
    "founded_year": "Year founded",
    "languages": "Languages",
    "offer": "What you offer other co-ops",
    "logo_url": "Logo address",
    "owner_email": "Your email address",
    "owner_name": "Your name",
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
        typed = f"; this has {len(value):,}" if isinstance(value, str) else ""
        return f"keep it to {ctx['max_length']:,} characters{typed}"
    if kind == "string_too_short":
        return (
            "fill this in"
            if ctx.get("min_length") == 1
            else (f"give at least {ctx['min_length']} characters")
        )
    if kind == "missing":
        return "fill this in"
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
            errors.setdefault(field, f"{FIELD_LABELS.get(field, field)}: {message}.")
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
        "kinds": codes.KINDS,
        "sectors": codes.SECTORS,
        "countries": codes.countries(),
        "regions": codes.regions(code) if code else {},
        "max_sectors": codes.MAX_SECTORS,
    }
