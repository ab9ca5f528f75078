"""The `asana` connector: completed milestone tasks in, issued invoices logged as comments out.

Source. Webhooks push events on a watched project; each event carries ids only, so the task
is read to see that it is completed and which milestone it is (connectors/asana/milestones.py).
The events endpoint with a sync token per project is the poller behind them (Asana delivers
webhooks at most once): a missing or expired token is answered 412 with a fresh one, and the
project's tasks completed since it was last read are then read in full. Either way one task
becomes one event, `asana:task:<gid>:completed`, so a webhook, a poll and a replay of the same
completion are one event to intake.

Sink. `invoice.issued` is logged on a task as a comment (connectors/asana/project_log.py):
the milestone task the invoice bills, else the task `map.log_tasks` names for the engagement
or the client, else `log_task`.

Limits: the token's rate (150 a minute on free domains, 1500 paid) through a token bucket;
429 and 5xx are retryable with Asana's Retry-After, other 4xx permanent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from connectors.asana.api import DEFAULT_BASE_URL, TASK_FIELDS, AsanaApi
from connectors.asana.hooks import SECRET_HEADER, HookSecrets
from connectors.asana.milestones import MilestoneFinder, MilestoneRef
from connectors.asana.project_log import comment_text, post_once
from connectors.base import Connector, ConnectorContext, Delivery, DeliveryReceipt
from connectors.sources import SourceProblem, SyncResult, WebhookReply, WebhookRequest
from connectors.state import SECRET_KEY_ENV
from connectors.translation import translate_records
from engine.errors import ConnectorError, UnmappedRecord

__all__ = ["AsanaConnector", "event_id"]

MAX_EVENT_PAGES = 20  # per project and poll; the rest comes with `more`
_FIRST_READ_DAYS = 30  # no `since` and no go-live date: read this far back
# Event changes that can make a task a completed milestone.
_FIELDS_OF_INTEREST = frozenset({"completed", "custom_fields", "resource_subtype", "name"})


def event_id(task_gid: str) -> str:
    """Return the id of the event for a task's completion (one per task, ever)."""
    return f"asana:task:{task_gid}:completed"


def touched_task(event: Mapping[str, Any]) -> str | None:
    """Return the gid of the task an Asana event may have completed, or None."""
    resource = event.get("resource") or {}
    if resource.get("resource_type") != "task" or not resource.get("gid"):
        return None
    action = event.get("action")
    if action in ("added", "undeleted"):
        return str(resource["gid"])
    if action == "changed":
        field = (event.get("change") or {}).get("field")
        if field is None or field in _FIELDS_OF_INTEREST:
            return str(resource["gid"])
    return None


class AsanaConnector(Connector):
    """Read completed milestones from Asana; log issued invoices on Asana tasks."""

    type = "asana"
    consumes = frozenset({"invoice.issued"})
    produces = frozenset({"milestone.completed"})

    def __init__(self, name: str, config: Mapping[str, Any], context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        token = str(config["token"])
        context.mark_secret(token)
        self.workspace = str(config["workspace_id"])
        self.api = AsanaApi(self, token,
                            base_url=str(config.get("base_url") or DEFAULT_BASE_URL),
                            per_minute=self.number_option("rate_limit_per_minute", 150, int),
                            timeout=self.number_option("timeout_seconds", 30.0))
        self.hooks = HookSecrets(self.state)
        self._mapping: Mapping[str, Any] = config.get("map") or {}
        self._finder: MilestoneFinder | None = None

    # -- mapping -----------------------------------------------------------------------
    @property
    def finder(self) -> MilestoneFinder:
        if self._finder is None:
            if self.context.rules is None:
                raise self.fail("needs the rule set to map tasks to milestones", retryable=False)
            self._finder = MilestoneFinder(self.context.rules, self._mapping,
                                           self.option("milestone_field"))
        return self._finder

    def projects(self) -> tuple[str, ...]:
        """Return the watched project gids: the `projects` option, else those the rules name."""
        configured = self.option("projects")
        if configured:
            return tuple(dict.fromkeys(str(gid) for gid in configured))
        return self.finder.project_gids()

    def _zone(self) -> timezone | ZoneInfo:
        rules = self.context.rules
        return ZoneInfo(rules.agency.timezone) if rules is not None else timezone.utc

    def milestone_event(self, task: Mapping[str, Any],
                        problems: list[SourceProblem]) -> Mapping[str, Any] | None:
        """Return the event for a completed milestone task (None: not one); note problems."""
        found = translate_records([task], _task_label, self._milestone)
        problems.extend(found.problems)
        return found.events[0] if found.events else None

    def _milestone(self, task: Mapping[str, Any], label: str) -> dict[str, Any] | None:
        """Return the event for a completed milestone task (None: not one); raise
        UnmappedRecord when it cannot be placed."""
        if not task.get("completed") or not self.finder.is_milestone(task):
            return None
        gid = str(task["gid"])
        ref = self.finder.place(task)
        completed = _instant(task.get("completed_at")) or _instant(task.get("modified_at"))
        if completed is None:
            raise UnmappedRecord(label, "completed, but Asana gave no completed_at")
        self.state.put(f"milestone_task:{ref.key}", gid)
        return {"id": event_id(gid), "type": "milestone.completed", "at": completed.isoformat(),
                "payload": {"client": ref.client, "engagement": ref.engagement,
                            "milestone": ref.milestone,
                            "completed_on": completed.astimezone(self._zone()).date().isoformat()}}

    def _events_of_tasks(self, tasks: Iterable[Mapping[str, Any] | None]
                         ) -> tuple[list[Mapping[str, Any]], list[SourceProblem]]:
        # a task deleted since the event (None) has nothing to bill
        found = translate_records((task for task in tasks if task is not None), _task_label,
                                  self._milestone)
        events = {event["id"]: event for event in found.events}  # one per task
        return list(events.values()), list(found.problems)

    # -- polling -----------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        """Read each watched project's events after its sync token (in full when it has none)."""
        cursor = dict(cursor or {})
        tokens: dict[str, str] = dict(cursor.get("sync") or {})
        read_at: dict[str, str] = dict(cursor.get("read_at") or {})
        started = self.context.now()
        tasks: dict[str, Mapping[str, Any] | None] = {}
        touched: dict[str, None] = {}
        more = False
        for project in self.projects():
            token = tokens.get(project)
            for _ in range(MAX_EVENT_PAGES):
                page = self.api.events(project, token)
                if page.expired:  # no token yet, or too old: read the project in full
                    tokens[project] = page.sync
                    for task in self._completed_tasks(project, read_at.get(project)
                                                      or cursor.get("since")):
                        tasks[str(task["gid"])] = task
                    break
                for event in page.events:
                    gid = touched_task(event)
                    if gid is not None:
                        touched[gid] = None
                token = tokens[project] = page.sync
                if not page.has_more:
                    break
            else:
                more = True
            read_at[project] = started.isoformat()
        for gid in touched:
            if gid not in tasks:
                tasks[gid] = self.api.task(gid)
        events, problems = self._events_of_tasks(tasks.values())
        new_cursor = {"sync": tokens, "read_at": read_at}
        if cursor.get("since"):
            new_cursor["since"] = cursor["since"]
        return SyncResult(tuple(events), new_cursor, tuple(problems), more)

    def _completed_tasks(self, project: str, since: str | None) -> Iterable[Mapping[str, Any]]:
        """Yield the project's tasks completed since `since` (a date or an instant)."""
        for task in self.api.pages(f"projects/{project}/tasks",
                                   doing=f"reading the tasks of Asana project {project}",
                                   params={"completed_since": self._since(since),
                                           "opt_fields": TASK_FIELDS}):
            if task.get("completed"):
                yield task

    def _since(self, since: str | None) -> str:
        if since:
            if len(since) == 10:  # a day: from its start, agency time
                day = date.fromisoformat(since)
                return datetime.combine(day, time(), self._zone()).isoformat()
            return since
        rules = self.context.rules
        if rules is not None and rules.agency.go_live is not None:
            return datetime.combine(rules.agency.go_live, time(), self._zone()).isoformat()
        return (self.context.now() - timedelta(days=_FIRST_READ_DAYS)).isoformat()

    # -- webhooks ----------------------------------------------------------------------
    def webhook(self, request: WebhookRequest) -> WebhookReply:
        """Answer the handshake, refuse a bad signature, turn task events into milestones."""
        if request.method != "POST":
            return WebhookReply.refused(405, "Asana webhooks are POSTed")
        if request.header(SECRET_HEADER) is not None:
            reply = self.hooks.handshake(request)
            if reply.status < 300:
                self.log.info("Asana webhook handshake on /%s: secret kept", request.path)
            return reply
        if not self.hooks.verify(request):
            return WebhookReply.refused(401, "X-Hook-Signature does not match")
        try:
            body = json.loads(request.body)
            delivered = list(body.get("events") or ())
        except (ValueError, AttributeError, TypeError):
            return WebhookReply.refused(400, "the body is not an Asana events object")
        gids = dict.fromkeys(gid for gid in map(touched_task, delivered) if gid is not None)
        events, problems = self._events_of_tasks(self.api.task(gid) for gid in gids)
        return WebhookReply(200, events=tuple(events), problems=tuple(problems))

    # -- the project log -----------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Comment the issued invoice on its task, once per action."""
        self.require_consumed(delivery)
        invoice = delivery.invoice
        if invoice is None:
            raise self.fail(f"{delivery.idempotency_key} carries no invoice", retryable=False)
        task = self.log_task(invoice)
        rules = self.context.rules
        client = rules.clients.get(str(invoice["client"])) if rules is not None else None
        text = comment_text(delivery.action, invoice, client.name if client else
                            str(invoice["client"]))
        story, created = post_once(self.api, self.state, task, delivery.idempotency_key, text)
        detail = "commented on" if created else "already logged on"
        self.log.info("%s: %s Asana task %s", delivery.idempotency_key, detail, task)
        return DeliveryReceipt(external_id=story, detail=f"{detail} Asana task {task}")

    def log_task(self, invoice: Mapping[str, Any]) -> str:
        """Return the task to log `invoice` on, most specific first."""
        log_tasks = {str(k): str(v) for k, v in (self._mapping.get("log_tasks") or {}).items()}
        client, engagement = str(invoice["client"]), str(invoice["engagement"])
        milestone = MilestoneRef(client, engagement, str(invoice["id"]).rsplit("/", 1)[-1])
        pinned = [gid for gid, key in (self._mapping.get("milestones") or {}).items()
                  if str(key) == milestone.key]
        for candidate in (self.state.get(f"milestone_task:{milestone.key}"),
                          pinned[0] if pinned else None,
                          log_tasks.get(f"{client}/{engagement}"), log_tasks.get(client),
                          self.option("log_task")):
            if candidate:
                return str(candidate)
        raise self.fail(f"no Asana task to log invoice {invoice['id']} on: add "
                        f"'{client}/{engagement}' to map.log_tasks, or set log_task",
                        retryable=False)

    # -- check ---------------------------------------------------------------------------
    def check(self) -> str:
        """Check the token, the workspace, the watched projects and the mapping."""
        me = self.api.data("GET", "users/me", doing="checking the Asana token",
                           params={"opt_fields": "name,workspaces"})
        workspaces = {str(w.get("gid")) for w in me.get("workspaces") or ()}
        problems: list[str] = []
        if self.workspace not in workspaces:
            problems.append(f"the token has no access to workspace {self.workspace}")
        names = []
        for project in self.projects():
            try:
                found = self.api.data("GET", f"projects/{project}",
                                      doing=f"reading Asana project {project}",
                                      params={"opt_fields": "name"})
                names.append(str(found.get("name") or project))
            except ConnectorError as exc:
                if exc.retryable:
                    raise
                problems.append(f"project {project} cannot be read")
        for gid, key in (self._mapping.get("milestones") or {}).items():
            try:
                self.finder.place({"gid": str(gid)})
            except UnmappedRecord as exc:
                problems.append(str(exc))
        for gid, project in (self._mapping.get("projects") or {}).items():
            if self.context.rules is not None and str(project) not in self.context.rules.projects:
                problems.append(f"map.projects sends Asana project {gid} to '{project}', which "
                                f"no engagement lists")
        if not self.projects():
            problems.append("no project to watch: set projects, map.projects or a client's "
                            "external_ids.asana")
        if problems:
            raise self.fail("; ".join(problems), retryable=False)
        note = ("" if self.state.can_seal
                else f"; set {SECRET_KEY_ENV} before creating webhooks (their secrets are kept "
                     f"sealed)")
        return (f"asana connector '{self.name}': signed in as {me.get('name')}, workspace "
                f"{self.workspace}, watching {len(names)} project(s): {', '.join(names)}{note}")

    def close(self) -> None:
        self.api.close()


def _task_label(task: Mapping[str, Any]) -> str:
    return f"task {task.get('gid')}"


def _instant(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
