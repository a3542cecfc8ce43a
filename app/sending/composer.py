"""One issue's messages: the bodies are rendered and encoded once per issue (once per
variant: with or without a first name, a footer reason, sharing links), with slots for
what is personal, and each recipient's message is spliced together from them by the
one message builder (`app.mailing.message`), signed and ready for the wire.

Rendering with Jinja and encoding two ~10 KB bodies for every recipient was most of
the per-message cost; splicing a few encoded values into encoded text is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.mailing.body import EncodedBody, slot
from app.mailing.message import ListInfo, MessageBuilder, Outgoing
from app.mailing.templates import html_template, text_template
from app.mailing.verp import verp_address


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    email: str
    first_name: str | None
    unsubscribe_url: str  # List-Unsubscribe (one click) and the footer's link
    preferences_url: str
    # Why this person receives it, said in their footer (see app/audiences): a sentence,
    # and for people reached through a sharing agreement the link that stops the
    # member's offers, with the member's name.
    reason: str = ""
    stop_sharing_url: str | None = None
    sharing_member: str | None = None
    shared_only: bool = False

    @property
    def variant(self) -> str:
        """Which of the template's branches this person's copy takes: one flag per
        value the compiled issue tests (`{% if first_name %}` and the like)."""
        flags = (self.first_name, self.reason, self.shared_only, self.stop_sharing_url)
        return "".join("1" if flag else "0" for flag in flags)

    def values(self) -> dict[str, str]:
        return {
            "first_name": self.first_name or "",
            "unsubscribe_url": self.unsubscribe_url,
            "preferences_url": self.preferences_url,
            "reason": self.reason,
            "stop_sharing_url": self.stop_sharing_url or "",
            "sharing_member": self.sharing_member or "",
        }


def _context(variant: str, postal_address: str) -> dict[str, Any]:
    """What a variant renders with: a slot marker for each value it shows."""
    named, reason, shared_only, sharing = (flag == "1" for flag in variant)
    return {
        "personal": True,
        "postal_address": postal_address,
        "unsubscribe_url": slot("unsubscribe_url"),
        "preferences_url": slot("preferences_url"),
        "first_name": slot("first_name") if named else None,
        "reason": slot("reason") if reason else "",
        "shared_only": shared_only,
        "stop_sharing_url": slot("stop_sharing_url") if sharing else None,
        "sharing_member": slot("sharing_member") if sharing else None,
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
        seed_prefix: str = "delivery",
    ) -> None:
        self.settings = settings
        self.seed_prefix = seed_prefix
        html_t, text_t = html_template(html), text_template(text)
        postal = settings.postal_address
        self.builder = MessageBuilder(
            settings=settings,
            sender_name=sender_name,
            sender_address=sender_address,
            subject=subject,
            html=EncodedBody(lambda v: html_t.render(_context(v, postal)), html=True),
            text=EncodedBody(lambda v: text_t.render(_context(v, postal)), html=False),
            feedback_id=feedback_id,
            reply_to=reply_to,
            list_info=list_info,
        )

    def compose(self, recipient: Recipient, *, return_path: str | None = None) -> Outgoing:
        return self.builder.build(
            to=recipient.email,
            seed=f"{self.seed_prefix}:{recipient.delivery_id}",
            return_path=return_path or verp_address(recipient.delivery_id, self.settings),
            values=recipient.values(),
            variant=recipient.variant,
            unsubscribe_url=recipient.unsubscribe_url,
        )
