"""One issue's messages: the bodies are rendered and encoded once per issue, with slots
for what is personal, and each recipient's message is spliced together from them by
the one message builder (`app.mailing.message`), signed and ready for the wire.

Rendering with Jinja and encoding two ~10 KB bodies for every recipient was most of
the per-message cost; splicing a few encoded values into encoded text is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.config import Settings
from app.mailing.body import EncodedBody, slot
from app.mailing.message import ListInfo, MessageBuilder, Outgoing
from app.mailing.templates import html_template, text_template
from app.mailing.verp import verp_address

# The values each recipient's copy fills in (the compiled issue's `{{ }}` placeholders).
PERSONAL = ("first_name", "unsubscribe_url", "preferences_url")


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    email: str
    first_name: str | None
    unsubscribe_url: str
    preferences_url: str
    # More values for slots of the compiled issue (e.g. why this person receives it).
    extra: Mapping[str, str] = field(default_factory=dict)


def _variants(template: Any, context: dict[str, Any]) -> dict[str, str]:
    """The body with a first name (its slot) and without one."""
    return {
        "named": template.render(first_name=slot("first_name"), **context),
        "anonymous": template.render(first_name=None, **context),
    }


class IssueComposer:
    def __init__(
        self,
        *,
        subject: str,
        sender_name: str,
        sender_address: str,
        reply_to: str | None,
        list_info: ListInfo,
        html: str,
        text: str,
        settings: Settings,
        feedback_id: str,
        extra_slots: tuple[str, ...] = (),
        seed_prefix: str = "delivery",
    ) -> None:
        self.settings = settings
        self.seed_prefix = seed_prefix
        context: dict[str, Any] = {
            "personal": True,
            "postal_address": settings.postal_address,
            "unsubscribe_url": slot("unsubscribe_url"),
            "preferences_url": slot("preferences_url"),
            **{name: slot(name) for name in extra_slots},
        }
        self.builder = MessageBuilder(
            settings=settings,
            sender_name=sender_name,
            sender_address=sender_address,
            subject=subject,
            html=EncodedBody(_variants(html_template(html), context), html=True),
            text=EncodedBody(_variants(text_template(text), context), html=False),
            feedback_id=feedback_id,
            reply_to=reply_to,
            list_info=list_info,
        )

    def compose(self, recipient: Recipient, *, return_path: str | None = None) -> Outgoing:
        values = {
            "first_name": recipient.first_name or "",
            "unsubscribe_url": recipient.unsubscribe_url,
            "preferences_url": recipient.preferences_url,
            **recipient.extra,
        }
        return self.builder.build(
            to=recipient.email,
            seed=f"{self.seed_prefix}:{recipient.delivery_id}",
            return_path=return_path or verp_address(recipient.delivery_id, self.settings),
            values=values,
            variant="named" if recipient.first_name else "anonymous",
            unsubscribe_url=recipient.unsubscribe_url,
        )
