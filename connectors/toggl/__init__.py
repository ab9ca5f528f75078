"""The `toggl` source: approved time entries from Toggl Track, polled and (optionally) pushed.

Polling reads the Reports API detailed report of the workspace (one request per page of
rows, rather than per user), from `lookback_days` back to today, since approvals are tags
added after the fact: each poll re-reads the window, and the deterministic event ids make
what was seen before a harmless repeat. The first sync starts at `since` (the go-live day)
and walks forward in windows of at most a year.

Approval is the `approved_tag` tag (removing it, or deleting the entry, withdraws it); with
no tag configured every stopped billable entry counts as approved.

Webhooks (`webhook_secret` set): `X-Webhook-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body>`; a PING carrying `validation_code` is answered `{"validation_code": ...}`, which
validates the subscription; time-entry events become events at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

from connectors.base import Connector, ConnectorContext
from connectors.imports.events import ApprovalLedger
from connectors.imports.maps import unknown_targets
from connectors.mapping import VendorMapping
from connectors.signatures import hmac_matches
from connectors.sources import SourceProblem, SyncResult, WebhookReply, WebhookRequest
from connectors.toggl.api import DEFAULT_QUOTA_RESET_HEADER, REPORTS_URL, TRACK_URL, TogglApi
from connectors.toggl.records import TogglEntry, TogglRecords, report_entries

__all__ = ["TogglConnector", "SIGNATURE_HEADER"]

SIGNATURE_HEADER = "X-Webhook-Signature-256"
_WINDOW = timedelta(days=365)  # the longest span one detailed report is asked for
_PROJECTS_PER_PAGE = 200


class TogglConnector(Connector):
    """Read one Toggl Track workspace's approved time."""

    type = "toggl"
    consumes = frozenset()
    produces = frozenset({"time.approved", "time.unapproved"})
    default_poll_interval = 900.0  # the hourly quotas are small: 4 polls an hour by default

    def __init__(self, name: str, config: Mapping[str, Any], context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        token = str(config["api_token"])
        context.mark_secret(token)
        self.workspace_id = str(config["workspace_id"])
        self.approved_tag = str(config["approved_tag"]) if config.get("approved_tag") else None
        self.webhook_secret = str(config.get("webhook_secret") or "")
        if self.webhook_secret:
            context.mark_secret(self.webhook_secret)
        self.lookback = timedelta(days=self.number_option("lookback_days", 35, int))
        self.page_size = self.number_option("page_size", 50, int)
        self.api = TogglApi(self, token=token,
                            base_url=str(config.get("base_url") or TRACK_URL),
                            reports_url=str(config.get("reports_base_url") or REPORTS_URL),
                            user_agent=str(config.get("user_agent") or "billflow"),
                            reset_header=str(config.get("quota_reset_header")
                                             or DEFAULT_QUOTA_RESET_HEADER))
        self.ledger = ApprovalLedger(self.state)
        self._map = config.get("map") or {}
        self._mapping: VendorMapping | None = None
        self._emails: dict[str, str] | None = None
        self._tag_id: int | None = None

    # -- mapping -----------------------------------------------------------------------
    @property
    def mapping(self) -> VendorMapping:
        if self._mapping is None:
            if self.context.rules is None:
                raise self.fail("needs the rule set to map Toggl entries", retryable=False)
            self._mapping = VendorMapping(self.context.rules, "toggl", "Toggl", self._map)
        return self._mapping

    @property
    def zone(self) -> tzinfo:
        rules = self.context.rules
        return rules.agency.calendar.zone if rules is not None else timezone.utc

    def records(self) -> TogglRecords:
        return TogglRecords(self.mapping, self.ledger, self._user_email, self.zone)

    def _user_email(self, user_id: Any) -> str | None:
        """Return a workspace user's e-mail (read once, only for people not in map.people)."""
        if str(user_id) in {str(key) for key in (self._map.get("people") or {})}:
            return None
        if self._emails is None:
            users = self._workspace_users()
            self._emails = {str(u.get("id")): str(u["email"]) for u in users if u.get("email")}
        return self._emails.get(str(user_id))

    def _workspace_users(self) -> list[Mapping[str, Any]]:
        users = self.api.get(f"/workspaces/{self.workspace_id}/users",
                             doing="reading Toggl workspace users")
        return [u for u in users if isinstance(u, Mapping)] if isinstance(users, list) else []

    def approved_tag_id(self) -> int | None:
        """Return the id of `approved_tag` in the workspace (report rows carry tag ids)."""
        if self.approved_tag is None:
            return None
        if self._tag_id is None:
            tags = self.api.get(f"/workspaces/{self.workspace_id}/tags",
                                doing="reading Toggl tags") or []
            named = [t for t in tags if isinstance(t, Mapping) and t.get("name") == self.approved_tag]
            if not named:
                raise self.fail(f"workspace {self.workspace_id} has no tag named "
                                f"'{self.approved_tag}' (option approved_tag)", retryable=False)
            self._tag_id = int(named[0]["id"])
        return self._tag_id

    # -- polling -----------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        """Read one page of the detailed report; `more` while pages or windows remain."""
        cursor = dict(cursor or {})
        since = _day(cursor.get("since"))
        today = self.context.now().astimezone(self.zone).date()
        window = cursor.get("window")
        if isinstance(window, Mapping):
            start, end = _day(window.get("start")), _day(window.get("end"))
            page_start = dict(cursor.get("page") or {})
        else:
            start = _day(cursor.get("next_start")) or since or today - self.lookback
            end, page_start = min(start + _WINDOW, today), {}
            self._emails = None  # a new pass: people may have joined the workspace since
        if start is None or end is None:
            raise self.fail("the kept cursor is not readable; run `billflow connectors resync`",
                            retryable=False)
        query: dict[str, Any] = {"start_date": start.isoformat(), "end_date": end.isoformat(),
                                 "page_size": self.page_size, "order_by": "date",
                                 "order_dir": "ASC", **page_start}
        tag_id = self.approved_tag_id()
        page = self.api.report_page(self.workspace_id, query,
                                    doing="reading the Toggl detailed report")
        translation = self.records().translate(report_entries(page.rows, tag_id))
        kept: dict[str, Any] = {"since": since.isoformat()} if since else {}
        if page.next is not None:
            kept.update(window={"start": start.isoformat(), "end": end.isoformat()},
                        page=dict(page.next))
            more = True
        elif end < today:
            kept["next_start"] = end.isoformat()  # a long history: the next window at once
            more = True
        else:
            floor = since or date.min
            kept["next_start"] = max(today - self.lookback, floor).isoformat()
            more = False
        return SyncResult(translation.events, kept, translation.problems, more)

    # -- webhooks ----------------------------------------------------------------------
    def webhook(self, request: WebhookRequest) -> WebhookReply:
        """Verify a Toggl webhook; answer a PING's validation; translate a time-entry event."""
        if not self.webhook_secret:
            return WebhookReply.refused(404, f"connector '{self.name}' takes no webhooks "
                                             f"(set its webhook_secret)")
        if request.method.upper() != "POST":
            return WebhookReply.refused(405, "POST only")
        if not hmac_matches(self.webhook_secret, request.body, request.header(SIGNATURE_HEADER),
                            prefix="sha256="):
            self.log.warning("refused a webhook with a bad %s", SIGNATURE_HEADER)
            return WebhookReply.refused(401, "bad signature")
        try:
            envelope = json.loads(request.body, parse_float=Decimal)
        except ValueError:
            return WebhookReply.refused(400, "the body is not JSON")
        if not isinstance(envelope, Mapping):
            return WebhookReply.refused(400, "the body is not a JSON object")
        payload = envelope.get("payload")
        if not isinstance(payload, Mapping):  # a PING ("ping"), or nothing billflow reads
            code = envelope.get("validation_code")
            if code:
                return WebhookReply(200, json.dumps({"validation_code": str(code)}).encode(),
                                    (("Content-Type", "application/json"),))
            return WebhookReply(200)
        metadata = envelope.get("metadata") if isinstance(envelope.get("metadata"), Mapping) else {}
        if metadata.get("model", "time_entry") != "time_entry" or "start" not in payload:
            return WebhookReply(200)  # a project, a tag, ...: not time
        workspace = payload.get("workspace_id", payload.get("wid"))
        if workspace is not None and str(workspace) != self.workspace_id:
            return WebhookReply(200, problems=(SourceProblem(
                f"time_entry {payload.get('id')}",
                f"came from Toggl workspace {workspace}, not {self.workspace_id}"),))
        try:
            entry = TogglEntry.from_track(payload, self.approved_tag,
                                          deleted=metadata.get("action") == "deleted")
        except (KeyError, TypeError, ValueError) as exc:
            return WebhookReply.refused(400, f"not a Toggl time entry ({exc})")
        translation = self.records().translate([entry])
        return WebhookReply(200, events=translation.events, problems=translation.problems)

    # -- check -------------------------------------------------------------------------
    def check(self) -> str:
        """Sign in (`GET /me`) and find the approval tag, every mapped project and person."""
        me = self.api.get("/me", doing="signing in to Toggl")
        who = str(me.get("fullname") or "") if isinstance(me, Mapping) else ""
        problems = unknown_targets(self.context.rules, self._map)
        projects = {str(key) for key in (self._map.get("projects") or {})}
        people = {str(key) for key in (self._map.get("people") or {})}
        if projects:
            found = self._project_ids()
            problems += [f"map.projects names Toggl project {key}, which workspace "
                         f"{self.workspace_id} does not have" for key in sorted(projects - found)]
        if people:
            found = {str(u.get("id")) for u in self._workspace_users()}
            problems += [f"map.people names Toggl user {key}, who is not in workspace "
                         f"{self.workspace_id}" for key in sorted(people - found)]
        if self.approved_tag is not None:
            try:
                self.approved_tag_id()
            except Exception as exc:  # a missing tag is one more problem to list
                if getattr(exc, "retryable", True):
                    raise
                problems.append(f"workspace {self.workspace_id} has no tag named "
                                f"'{self.approved_tag}'")
        if problems:
            raise self.fail("; ".join(problems), retryable=False)
        approval = f"approved by tag '{self.approved_tag}'" if self.approved_tag \
            else "every billable entry counts as approved"
        return (f"toggl connector '{self.name}': workspace {self.workspace_id}, signed in as "
                f"{who or 'the token owner'}; {len(projects)} mapped projects and "
                f"{len(people)} mapped people found; {approval}")

    def _project_ids(self) -> set[str]:
        found: set[str] = set()
        page = 1
        while True:
            batch = self.api.get(f"/workspaces/{self.workspace_id}/projects",
                                 {"active": "both", "per_page": _PROJECTS_PER_PAGE, "page": page},
                                 doing="reading Toggl projects")
            batch = batch if isinstance(batch, list) else []
            found.update(str(p.get("id")) for p in batch if isinstance(p, Mapping))
            if len(batch) < _PROJECTS_PER_PAGE:
                return found
            page += 1

    def close(self) -> None:
        self.api.close()


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
