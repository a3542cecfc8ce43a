"""Asking before an action that cannot be undone: one mechanism for every page.

The page puts a `Confirmation`'s attributes on the button (or form) that does it:
`<button {{ suspend_confirmation(member).attrs() }}>`. With JavaScript,
static/confirm.js asks in a <dialog> and submits with `confirmed=yes`. Without it (or
from a stale page, a script, a double click that beat the dialog), the POST arrives
without `confirmed`, and the handler answers with a confirmation page that posts the
same fields again plus `confirmed=yes`. An irreversible action never happens on one
unconfirmed request, and the dialog and the page say the same words because both come
from the same `Confirmation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.datastructures import FormData

from app.web import CSRF_FIELD, render, templates

CONFIRM_FIELD = "confirmed"
CONFIRMED = "yes"


@dataclass(frozen=True)
class Confirmation:
    """What to ask: a question, what will happen, the button that does it, and where
    "Go back" leads (a local path)."""

    title: str
    message: str
    button: str
    back: str
    danger: bool = True

    def attrs(self) -> Markup:
        """The attributes static/confirm.js reads (put them on the button or the form)."""
        attrs = Markup('data-confirm="{}" data-confirm-message="{}" data-confirm-button="{}"')
        danger = Markup(" data-confirm-danger") if self.danger else Markup("")
        return attrs.format(self.title, self.message, self.button) + danger


async def posted_form(request: Request) -> FormData:
    """The request's form, read in the event loop (Starlette keeps it for later reads)."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]


def is_confirmed(form: FormData) -> bool:
    return form.get(CONFIRM_FIELD) == CONFIRMED


def unless_confirmed(
    request: Request, form: FormData, confirmation: Confirmation
) -> HTMLResponse | None:
    """None when the person confirmed; otherwise the page that asks them to."""
    if is_confirmed(form):
        return None
    return ask(request, form, confirmation)


def ask(
    request: Request,
    form: FormData,
    confirmation: Confirmation,
    *,
    extra: dict[str, str] | None = None,
) -> HTMLResponse:
    """The confirmation page: posts the same fields back, with `extra` ones replacing
    theirs (e.g. naming what turned out to be at stake), plus `confirmed=yes`."""
    extra = extra or {}
    fields = [
        (name, value)
        for name, value in form.multi_items()
        if name not in (CSRF_FIELD, CONFIRM_FIELD, *extra) and isinstance(value, str)
    ]
    return render(
        request,
        "confirm.html",
        confirmation=confirmation,
        action=request.url.path,
        fields=fields + list(extra.items()),
    )


F = TypeVar("F", bound=Callable[..., Confirmation])


def for_templates(builder: F) -> F:
    """Make a confirmation builder callable from templates under its own name."""
    templates.env.globals[builder.__name__] = builder
    return builder
