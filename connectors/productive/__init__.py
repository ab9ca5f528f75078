"""The `productive` connector: approved time in, issued invoices logged on budgets out.

Source. Polls `GET /time_entries` for entries updated since the cursor (sorted by
`updated_at`, with their person, service and budget `included`), one page per batch: an
approved entry becomes `time.approved`, an entry billflow saw approved that is no longer
approved becomes `time.unapproved` (connectors/productive/time_entries.py). The cursor is the
`updated_at` of the last entry read (repeats at the boundary are harmless: same event ids);
when a whole page shares one instant, the next page number is read instead. Webhooks (time
entry events 7, 8 and 9) carry a `Productive-Signature`; the entry is then read again, so
what the webhook body holds beyond the entry id does not matter.

Sink. `invoice.issued` becomes a comment on the budget (deal) the invoice bills, or on the
client's company (connectors/productive/project_log.py).

Limits: 100 requests per 10 s and 4000 per 30 min; 429 and 5xx retryable (Retry-After when
sent), other 4xx permanent; 401/403 mean the token or organization is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from connectors.base import Connector, ConnectorContext, Delivery, DeliveryReceipt
from connectors.productive.api import DEFAULT_BASE_URL, JsonApiPage, ProductiveApi
from connectors.productive.project_log import comment_body, log_target, post_once
from connectors.productive.signature import SignatureCheck
from connectors.productive.time_entries import EntryTranslator, unapproved_event_id, source_id
from connectors.sources import SyncResult, WebhookReply, WebhookRequest
from connectors.translation import Translation, translate_records
from engine.errors import ConnectorError

__all__ = ["ProductiveConnector"]

DEFAULT_INCLUDE = "person,service,service.deal,service.deal.project"
DEFAULT_PAGE_SIZE = 100
_FIRST_READ_DAYS = 30  # no `since` and no go-live date: read this far back
_TIME_ENTRY_TYPES = frozenset({"time_entries", "time_entry", ""})


class EntryRead(NamedTuple):
    """A time entry as read: its id, the entry (None: gone) and the page it came in."""

    entry_id: str
    entry: Mapping[str, Any] | None
    page: JsonApiPage


class ProductiveConnector(Connector):
    """Read approved time from Productive; log issued invoices on Productive budgets."""

    type = "productive"
    consumes = frozenset({"invoice.issued"})
    produces = frozenset({"time.approved", "time.unapproved"})

    def __init__(self, name: str, config: Mapping[str, Any], context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        token = str(config["api_token"])
        context.mark_secret(token)
        self.organization = str(config["organization_id"])
        self.api = ProductiveApi(self, token, self.organization,
                                 base_url=str(config.get("base_url") or DEFAULT_BASE_URL),
                                 timeout=self.number_option("timeout_seconds", 30.0))
        self.page_size = self.number_option("page_size", DEFAULT_PAGE_SIZE, int)
        if self.page_size > 200:
            raise self.fail("option 'page_size' must be at most 200", retryable=False)
        self.include = str(config.get("include") or DEFAULT_INCLUDE)
        webhook_token = config.get("webhook_token")
        if webhook_token:
            context.mark_secret(str(webhook_token))
        signature = dict(config.get("signature") or {})
        try:
            self.signature = (SignatureCheck.of(str(webhook_token), signature)
                              if webhook_token else None)
        except ValueError:
            raise self.fail("option 'signature.max_age_seconds' must be a whole number",
                            retryable=False) from None
        self._mapping: Mapping[str, Any] = config.get("map") or {}
        self._translator: EntryTranslator | None = None

    @property
    def translator(self) -> EntryTranslator:
        if self._translator is None:
            if self.context.rules is None:
                raise self.fail("needs the rule set to map time entries", retryable=False)
            self._translator = EntryTranslator(self.context.rules, self._mapping)
        return self._translator

    def _zone(self) -> timezone | ZoneInfo:
        rules = self.context.rules
        return ZoneInfo(rules.agency.timezone) if rules is not None else timezone.utc

    # -- translating ---------------------------------------------------------------------
    def entry_event(self, entry: Mapping[str, Any] | None, entry_id: str,
                    page: JsonApiPage) -> dict[str, Any] | None:
        """Return the event one entry (None: deleted) brings, if any; raise UnmappedRecord."""
        attributes = (entry or {}).get("attributes") or {}
        approval_key = f"approved:{entry_id}"
        if entry is not None and attributes.get("approved") and not attributes.get("rejected"):
            event = self.translator.approved(entry, page, self.context.now().isoformat())
            self.state.put(approval_key, {"event": event["id"]})
            return event
        kept = self.state.get(approval_key)
        if not kept:
            return None  # never approved as far as billflow knows: nothing to withdraw
        stamp = attributes.get("updated_at") or self.context.now().isoformat()
        return {"id": unapproved_event_id(entry_id, str(kept["event"])),
                "type": "time.unapproved", "at": str(stamp),
                "payload": {"source_id": source_id(entry_id)}}

    def translate(self, found: Iterable[EntryRead]) -> Translation:
        """Translate entries as read; note what cannot be mapped."""
        return translate_records(found, lambda read: f"time_entry {read.entry_id}",
                                 lambda read, _: self.entry_event(read.entry, read.entry_id,
                                                                  read.page))

    # -- polling -------------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        """Read one page of entries updated since the cursor; say whether more are waiting."""
        cursor = dict(cursor or {})
        since = str(cursor.get("updated_since") or self._first_instant(cursor.get("since")))
        number = int(cursor.get("page") or 1)
        page = self.api.page("time_entries", doing="reading Productive time entries", params={
            "filter[updated_at][gt_eq]": since, "sort": "updated_at", "include": self.include,
            "page[number]": number, "page[size]": self.page_size})
        found = self.translate(EntryRead(str(entry.get("id")), entry, page)
                               for entry in page.records)
        last = _latest(page.records)
        if last is not None and _instant(last) != _instant(since):
            next_cursor = {"updated_since": last, "page": 1}
        elif page.has_next:  # the whole page shares one instant: step by page number
            next_cursor = {"updated_since": since, "page": number + 1}
        else:
            next_cursor = {"updated_since": since, "page": 1}
        if cursor.get("since"):
            next_cursor["since"] = cursor["since"]
        return SyncResult(found.events, next_cursor, found.problems, more=page.has_next)

    def _first_instant(self, since: str | None) -> str:
        rules = self.context.rules
        if since:
            day: date | None = date.fromisoformat(since[:10])
        else:
            day = rules.agency.go_live if rules is not None else None
        if day is None:
            return (self.context.now() - timedelta(days=_FIRST_READ_DAYS)).isoformat()
        return datetime.combine(day, time(), self._zone()).isoformat()

    # -- webhooks ------------------------------------------------------------------------
    def webhook(self, request: WebhookRequest) -> WebhookReply:
        """Check the signature, then read each time entry the delivery names."""
        if request.method != "POST":
            return WebhookReply.refused(405, "Productive webhooks are POSTed")
        if self.signature is None:
            return WebhookReply.refused(401, "set webhook_token to take Productive webhooks")
        refusal = self.signature.refusal(request, self.context.now())
        if refusal is not None:
            return WebhookReply.refused(401, refusal)
        try:
            ids = _time_entry_ids(json.loads(request.body))
        except (ValueError, TypeError, AttributeError):
            return WebhookReply.refused(400, "the body is not a Productive webhook payload")
        found = self.translate(self._read_entry(entry_id) for entry_id in ids)
        return WebhookReply(200, events=found.events, problems=found.problems)

    def _read_entry(self, entry_id: str) -> EntryRead:
        page = self.api.record(f"time_entries/{entry_id}",
                               doing=f"reading Productive time entry {entry_id}",
                               params={"include": self.include}, missing_ok=True)
        return EntryRead(entry_id, page.records[0] if page.records else None, page)

    # -- the project log -------------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Comment the issued invoice on its budget (or company), once per action."""
        self.require_consumed(delivery)
        invoice = delivery.invoice
        rules = self.context.rules
        if invoice is None or rules is None:
            raise self.fail(f"{delivery.idempotency_key}: no invoice to log", retryable=False)
        target = log_target(rules, self._mapping, invoice)
        if target is None:
            raise self.fail(f"no Productive budget to log invoice {invoice['id']} on: add "
                            f"'{invoice['client']}/{invoice['engagement']}' to map.log_deals, "
                            f"a budget of it to map.budgets, or the client's "
                            f"external_ids.productive", retryable=False)
        client = rules.clients.get(str(invoice["client"]))
        body = comment_body(delivery.action, invoice, client.name if client else
                            str(invoice["client"]))
        comment, created = post_once(self.api, self.state, target, delivery.idempotency_key,
                                     body)
        detail = (f"{'commented on' if created else 'already logged on'} Productive "
                  f"{target[0]} {target[1]}")
        self.log.info("%s: %s", delivery.idempotency_key, detail)
        return DeliveryReceipt(external_id=comment, detail=detail)

    # -- check -----------------------------------------------------------------------------
    def check(self) -> str:
        """Check the token and organization, and that every mapped budget and project exists."""
        self.api.page("time_entries", doing="checking the Productive token and organization",
                      params={"page[size]": 1})
        problems: list[str] = []
        rules = self.context.rules
        for label, path, key in (("budget", "deals", "budgets"), ("project", "projects",
                                                                  "projects")):
            for vendor_id, project in (self._mapping.get(key) or {}).items():
                if rules is not None and str(project) not in rules.projects:
                    problems.append(f"map.{key} sends {label} {vendor_id} to '{project}', "
                                    f"which no engagement lists")
                try:
                    self.api.record(f"{path}/{vendor_id}",
                                    doing=f"reading Productive {label} {vendor_id}")
                except ConnectorError as exc:
                    if exc.retryable:
                        raise
                    problems.append(f"Productive {label} {vendor_id} cannot be read")
        for vendor_id, person in (self._mapping.get("people") or {}).items():
            if rules is not None and str(person) not in rules.agency.people:
                problems.append(f"map.people sends person {vendor_id} to '{person}', who is no "
                                f"Agency person")
        if problems:
            raise self.fail("; ".join(problems), retryable=False)
        hooks = "webhooks verified" if self.signature else "no webhook_token: polling only"
        mapped = len(self._mapping.get("budgets") or {}) + len(self._mapping.get("projects") or {})
        return (f"productive connector '{self.name}': organization {self.organization} "
                f"reachable, {mapped} budget(s)/project(s) mapped, {hooks}")

    def close(self) -> None:
        self.api.close()


def _instant(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _latest(records: tuple[Mapping[str, Any], ...]) -> str | None:
    """Return the latest `updated_at` of `records`, as Productive wrote it."""
    stamps = [str(r.get("attributes", {}).get("updated_at")) for r in records
              if (r.get("attributes") or {}).get("updated_at")]
    dated = [(moment, text) for text in stamps if (moment := _instant(text)) is not None]
    return max(dated)[1] if dated else None


def _time_entry_ids(body: Any) -> list[str]:
    """Return the time entry ids a webhook delivery names (its JSON:API `data`)."""
    data = body.get("data") if isinstance(body, Mapping) else None
    items = data if isinstance(data, list) else [data] if isinstance(data, Mapping) else []
    ids = [str(item["id"]) for item in items if isinstance(item, Mapping)
           and item.get("id") is not None and str(item.get("type") or "") in _TIME_ENTRY_TYPES]
    return list(dict.fromkeys(ids))
