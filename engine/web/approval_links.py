"""One-click approval links: issued for the dispatcher's mail, checked by the approval page.

A link is `/approve/<token>`; the token is signed (signing.py, purpose "approve") and names
the draft, its revision and the person the mail went to (the approver, or `escalate_to` once
the request was escalated: each link records its own holder's approval); it expires `approval_ttl`
after approval was requested. The same request gives the same token on every retry of its
mail (no nonce, no clock): the message stays byte-identical, as delivery promises.

A genuine, unexpired token is honoured once, and only while its revision of the draft is
the one awaiting approval: a used link, or one for a draft that was flagged, adjusted into a
newer revision, issued or voided since, is refused with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.errors import LinkRefused
from engine.runtime.store import Store
from engine.web.settings import WebSettings
from engine.web.signing import sign, token_id, verify

__all__ = ["ApprovalLinks", "ApprovalClaim", "PURPOSE"]

PURPOSE = "approve"


@dataclass(frozen=True)
class ApprovalClaim:
    """What a genuine approval link says, and the request it was issued for."""

    invoice_id: str
    revision: int
    approver: str
    expires: datetime
    link_id: str
    request: dict[str, Any]  # the approval.requested action's JSON object


def request_id(invoice_id: str, revision: int) -> str:
    return f"approval.requested:{invoice_id}:r{revision}"


def escalation_id(invoice_id: str, revision: int) -> str:
    return f"approval.escalated:{invoice_id}:r{revision}"


class ApprovalLinks:
    """Issue and check approval links against the store's action log."""

    def __init__(self, settings: WebSettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def url(self, invoice_id: str, revision: int, person: str | None = None) -> str | None:
        """Return `person`'s link for a requested approval (the dispatcher's ApprovalUrl)."""
        token = self.token(invoice_id, revision, person)
        return self.settings.url(f"/approve/{token}") if token else None

    def token(self, invoice_id: str, revision: int, person: str | None = None) -> str | None:
        """Sign a link for `person` (default: the approver); None if they may not approve."""
        action = self.store.action(request_id(invoice_id, revision))
        if action is None:
            return None
        holder = person or str(action["payload"]["approver"])
        if holder not in self.holders(invoice_id, revision, action):
            return None
        requested = datetime.fromisoformat(str(action["at"]))
        claims = {"i": invoice_id, "r": revision, "a": holder}
        return sign(self.settings.secret, PURPOSE, claims, requested + self.settings.approval_ttl)

    def holders(self, invoice_id: str, revision: int, request: dict[str, Any]) -> set[str]:
        """Who may hold a link: the approver, and `escalate_to` once the request escalated."""
        holders = {str(request["payload"]["approver"])}
        escalation = self.store.action(escalation_id(invoice_id, revision))
        if escalation is not None and escalation["payload"].get("escalate_to"):
            holders.add(str(escalation["payload"]["escalate_to"]))
        return holders

    def read(self, token: str, now: datetime) -> ApprovalClaim:
        """Return the claim of a link that may still be acted on; raise LinkRefused."""
        claims = verify(self.settings.secret, PURPOSE, token, now)
        try:
            invoice_id, revision, approver = str(claims["i"]), int(claims["r"]), str(claims["a"])
        except (KeyError, TypeError, ValueError):
            raise LinkRefused("forged", "This link is not genuine.") from None
        request = self.store.action(request_id(invoice_id, revision))
        if request is None or approver not in self.holders(invoice_id, revision, request):
            raise LinkRefused("forged", "This link names no approval request billflow made.")
        link_id = token_id(token)
        expires = datetime.fromtimestamp(int(claims["x"]), now.tzinfo)
        claim = ApprovalClaim(invoice_id, revision, approver, expires, link_id, request)
        if self.store.link_used(link_id):
            raise LinkRefused("used", "This link was used already: the draft was approved or "
                                      "flagged from it.")
        superseded = self.superseded_by(invoice_id, revision)
        if superseded:
            raise LinkRefused("superseded", superseded)
        return claim

    def superseded_by(self, invoice_id: str, revision: int) -> str | None:
        """Say why this revision no longer awaits approval (None while it does)."""
        action = self.store.action
        if action(f"invoice.issued:{invoice_id}") is not None:
            return "This draft was approved and issued already; nothing is left to do."
        if action(f"invoice.voided:{invoice_id}") is not None:
            return "This draft was voided; nothing is left to do."
        if action(request_id(invoice_id, revision + 1)) is not None:
            return ("This draft was changed since this link was sent: a newer version awaits "
                    "approval, with a link of its own.")
        if action(f"invoice.flagged:{invoice_id}:r{revision}") is not None:
            return "This draft was flagged for edits; it comes back for approval once adjusted."
        return None

    def use(self, claim: ApprovalClaim, now: datetime) -> bool:
        """Spend the link; False if another request spent it first."""
        return self.store.use_link(claim.link_id, PURPOSE, now, claim.expires)
