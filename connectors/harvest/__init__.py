"""The `harvest` source: approved time entries and expenses from Harvest API v2, by polling.

Harvest has no webhooks: the daemon polls `GET /time_entries` and `GET /expenses` with
`updated_since` (and `from`, the first sync's day), a page per batch (records.py says what
each record becomes, cursor.py how the position is kept). A record that cannot be mapped is a
source problem; it never holds back the others nor the cursor, and a `billflow connectors
resync` after the mapping is fixed fetches it again.

Options (config.schema.json): `account_id`, `token` (a Personal Access Token, `${ENV}`),
`user_agent`, `base_url`, `per_page`, `poll_interval`, `expenses` (default true) and `map`
(projects, people, roles: connectors/mapping.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import Connector, ConnectorContext
from connectors.harvest.api import DEFAULT_BASE_URL, HarvestApi
from connectors.harvest.cursor import LISTS, HarvestCursor, ListPosition
from connectors.harvest.records import HarvestRecords, updated_at
from connectors.imports.events import ApprovalLedger
from connectors.imports.maps import unknown_targets
from connectors.mapping import VendorMapping
from connectors.sources import SyncResult, WebhookReply, WebhookRequest

__all__ = ["HarvestConnector"]

_MAX_PER_PAGE = 2000


class HarvestConnector(Connector):
    """Poll one Harvest account for approved time and expenses."""

    type = "harvest"
    consumes = frozenset()
    produces = frozenset({"time.approved", "time.unapproved", "expense.approved"})
    default_poll_interval = 300.0

    def __init__(self, name: str, config: Mapping[str, Any], context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        token = str(config["token"])
        context.mark_secret(token)
        self.account_id = str(config["account_id"])
        self.per_page = self.number_option("per_page", _MAX_PER_PAGE, int)
        if self.per_page > _MAX_PER_PAGE:
            raise self.fail(f"option 'per_page' is at most {_MAX_PER_PAGE}", retryable=False)
        self.include_expenses = config.get("expenses", True) not in (False, "false")
        agency = context.rules.agency.name if context.rules is not None else "an agency"
        user_agent = str(config.get("user_agent") or f"billflow ({agency})")
        self.api = HarvestApi(self, base_url=str(config.get("base_url") or DEFAULT_BASE_URL),
                              token=token, account_id=self.account_id, user_agent=user_agent)
        self.ledger = ApprovalLedger(self.state)
        self._map = config.get("map") or {}
        self._emails: dict[str, str] | None = None
        self._mapping: VendorMapping | None = None

    # -- mapping -----------------------------------------------------------------------
    @property
    def mapping(self) -> VendorMapping:
        if self._mapping is None:
            if self.context.rules is None:
                raise self.fail("needs the rule set to map Harvest records", retryable=False)
            self._mapping = VendorMapping(self.context.rules, "harvest", "Harvest", self._map)
        return self._mapping

    def _user_email(self, user_id: Any) -> str | None:
        """Return a Harvest user's e-mail (read once per sync, only for people not in map.people)."""
        if str(user_id) in {str(key) for key in (self._map.get("people") or {})}:
            return None
        if self._emails is None:
            users = self.api.every("users", "/users", {"per_page": self.per_page},
                                   doing="reading Harvest users")
            self._emails = {str(u.get("id")): str(u["email"]) for u in users if u.get("email")}
        return self._emails.get(str(user_id))

    # -- polling -----------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        """Read one page of the list in turn; `more` while pages or lists remain this poll."""
        position = HarvestCursor.parse(cursor)
        lists = LISTS if self.include_expenses else LISTS[:1]
        name = position.list if position.list in lists else lists[0]
        if name == lists[0] and not position.at(name).next:
            self._emails = None  # a new poll: people may have joined Harvest since
        at = position.at(name)
        doing = f"reading Harvest {name.replace('_', ' ')}"
        if at.next:
            page = self.api.page(name, at.next, None, doing=doing)
        else:
            params: dict[str, Any] = {"per_page": self.per_page}
            if at.updated_since:
                params["updated_since"] = at.updated_since
            if position.since:
                params["from"] = position.since
            page = self.api.page(name, f"/{name}", params, doing=doing)
        translation = HarvestRecords(self.mapping, self.ledger, self._user_email).translate(
            name, page.records)
        newest = _newest(at.newest, page.records)
        if page.next:
            moved = position.moved(name, ListPosition(at.updated_since, page.next, newest), name)
            more = True
        else:
            done = ListPosition(newest or at.updated_since)
            following = lists.index(name) + 1
            more = following < len(lists)
            moved = position.moved(name, done, lists[following] if more else lists[0])
        return SyncResult(translation.events, moved.dump(), translation.problems, more)

    # -- webhooks ----------------------------------------------------------------------
    def webhook(self, request: WebhookRequest) -> WebhookReply:
        """Harvest sends no webhooks; billflow polls it."""
        return WebhookReply.refused(404, f"connector '{self.name}' (harvest) takes no webhooks: "
                                         f"Harvest has none, billflow polls it")

    # -- check -------------------------------------------------------------------------
    def check(self) -> str:
        """Sign in (`GET /users/me`) and find every mapped project and person in the account."""
        me = self.api.get("/users/me", None, doing="signing in to Harvest")
        who = " ".join(str(me.get(k)) for k in ("first_name", "last_name") if me.get(k)) \
            if isinstance(me, Mapping) else ""
        problems = unknown_targets(self.context.rules, self._map)
        projects = {str(key) for key in (self._map.get("projects") or {})}
        people = {str(key) for key in (self._map.get("people") or {})}
        if projects:
            found = {str(p.get("id")) for p in self.api.every(
                "projects", "/projects", {"per_page": self.per_page},
                doing="reading Harvest projects")}
            problems += [f"map.projects names Harvest project {key}, which the account does "
                         f"not have" for key in sorted(projects - found)]
        if people:
            found = {str(u.get("id")) for u in self.api.every(
                "users", "/users", {"per_page": self.per_page}, doing="reading Harvest users")}
            problems += [f"map.people names Harvest user {key}, who is not in the account"
                         for key in sorted(people - found)]
        if problems:
            raise self.fail("; ".join(problems), retryable=False)
        return (f"harvest connector '{self.name}': account {self.account_id}, signed in as "
                f"{who or 'the token owner'}; {len(projects)} mapped projects and "
                f"{len(people)} mapped people found")

    def close(self) -> None:
        self.api.close()


def _newest(known: str | None, records: tuple[Mapping[str, Any], ...]) -> str | None:
    """Return the latest `updated_at` text among `known` and the records."""
    best, best_at = known, _parse(known)
    for raw in records:
        try:
            when = updated_at(raw)
        except (KeyError, ValueError, TypeError):
            continue
        if best_at is None or when > best_at:
            best, best_at = str(raw["updated_at"]), when
    return best


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
