"""The OpenAPI 3.1 description of the JSON API (`/api/openapi.json`), written by hand.

Written out rather than generated, so that every field of the read models is typed and
described; tests check it against the OpenAPI schema and run schemathesis against the
live server with it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["openapi_document"]

_DATE = {"type": "string", "format": "date"}
_INSTANT = {"type": "string", "format": "date-time"}
_DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _array(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": schema}


def _object(description: str, **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "description": description, "properties": properties,
            "required": sorted(properties)}


_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object("What went wrong, as one sentence.", error={"type": "string"}),
    "Money": _object("An amount in one currency, in its minor units (JPY has none).",
                     amount=_DECIMAL, currency={"type": "string", "pattern": "^[A-Z]{3}$"}),
    "Invoice": _object(
        "One invoice as the status lists it.",
        id={"type": "string", "description": "client/engagement/period-or-milestone"},
        number=_nullable({"type": "string"}), engagement={"type": "string"},
        status={"type": "string", "enum": ["draft", "awaiting_approval", "flagged", "issued",
                                           "paid", "voided"]},
        total=_ref("Money"), balance=_ref("Money"), issue_date=_nullable(_DATE),
        due_date=_nullable(_DATE), period_start=_nullable(_DATE), period_end=_nullable(_DATE),
        paid_on=_nullable(_DATE), disputed={"type": "boolean"}),
    "FollowUp": _object(
        "A reminder or an escalation sent about an invoice.", at=_INSTANT,
        kind={"type": "string", "enum": ["reminder", "escalation"]},
        detail={"type": "string", "description": "the cadence step, or the escalation rule"},
        balance=_nullable(_ref("Money"))),
    "PendingApproval": _object(
        "A draft waiting on a person.", invoice=_ref("Invoice"), approver={"type": "string"},
        approver_name={"type": "string"}, since=_INSTANT, waiting_hours=_DECIMAL,
        reminded={"type": "boolean"}, escalated={"type": "boolean"},
        escalate_to=_nullable({"type": "string"})),
    "OverdueInvoice": _object(
        "An issued invoice past its due date, and how it was chased.",
        invoice=_ref("Invoice"), days_overdue={"type": "integer"},
        follow_ups=_array(_ref("FollowUp"))),
    "AgingBuckets": _object(
        "Open balances in one currency by days past due: current, 1-30, 31-60, 61-90, 90+.",
        currency={"type": "string"},
        buckets={**_array(_ref("Money")), "minItems": 5, "maxItems": 5},
        total=_ref("Money"), credit=_ref("Money"), invoices={"type": "integer"}),
    "ClientStatus": _object(
        "One client's billing.", id={"type": "string"}, name={"type": "string"},
        account_lead={"type": "string"}, account_lead_name={"type": "string"},
        currency={"type": "string"}, drafts=_array(_ref("Invoice")),
        awaiting=_array(_ref("PendingApproval")), issued=_array(_ref("Invoice")),
        overdue=_array(_ref("OverdueInvoice")), paid=_array(_ref("Invoice")),
        credit=_array(_ref("Money")), aging=_array(_ref("AgingBuckets")),
        outstanding=_array(_ref("Money")), overdue_total=_array(_ref("Money"))),
    "AssignChoice": _object(
        "An open invoice a payment could be assigned to.", invoice={"type": "string"},
        number=_nullable({"type": "string"}), client={"type": "string"},
        client_name={"type": "string"}, balance=_ref("Money"), due_date=_nullable(_DATE)),
    "UnmatchedPayment": _object(
        "A payment waiting for a person to say whose it is.", id={"type": "string"},
        amount=_ref("Money"), date=_DATE, reference=_nullable({"type": "string"}),
        payer=_nullable({"type": "string"}), client=_nullable({"type": "string"}),
        received_at=_INSTANT, reason={"type": "string"},
        invoices=_array(_ref("AssignChoice")),
        clients=_array({"type": "array", "items": {"type": "string"},
                        "description": "[client id, name]"})),
    "DeadLetter": _object(
        "A delivery given up on.", action={"type": "string"}, type={"type": "string"},
        client=_nullable({"type": "string"}), connector={"type": "string"},
        attempts={"type": "integer"}, error=_nullable({"type": "string"})),
    "RulesProblem": _object(
        "A load of the rule folder that failed.", loaded_at=_INSTANT, source={"type": "string"},
        errors=_array({"type": "string"})),
    "LateApproval": _object(
        "A draft waiting longer than its route allows.", invoice={"type": "string"},
        client={"type": "string"}, client_name={"type": "string"}, total=_ref("Money"),
        approver={"type": "string"}, approver_name={"type": "string"}, since=_INSTANT,
        due_by=_INSTANT, waiting_hours=_DECIMAL, late_by_hours=_DECIMAL,
        escalated={"type": "boolean"}, escalate_to=_nullable({"type": "string"})),
    "FinanceQueue": _object(
        "What the automation could not decide.",
        unmatched=_array(_ref("UnmatchedPayment")), dead_letters=_array(_ref("DeadLetter")),
        rules_version=_nullable({"type": "string"}),
        rules_problems=_array(_ref("RulesProblem")),
        late_approvals=_array(_ref("LateApproval")), degraded={"type": "boolean"},
        size={"type": "integer"}),
    "CurrencyDso": _object(
        "DSO in one currency.", currency={"type": "string"}, dso=_nullable(_DECIMAL),
        receivables=_ref("Money"), invoiced=_ref("Money")),
    "PeriodMetrics": _object(
        "Every SPEC §7 metric for one period (a month, or the whole window).",
        start=_DATE, end=_DATE, dso=_array(_ref("CurrencyDso")),
        avg_days_to_pay=_nullable(_DECIMAL), paid={"type": "integer"},
        issued={"type": "integer"}, on_time={"type": "integer"},
        on_time_rate=_nullable(_DECIMAL), approved={"type": "integer"},
        auto_approved={"type": "integer"}, approval_median_hours=_nullable(_DECIMAL),
        approval_p90_hours=_nullable(_DECIMAL), touches={"type": "integer"},
        touches_per_invoice=_nullable(_DECIMAL), aging=_array(_ref("AgingBuckets"))),
    "Trends": _object(
        "The last twelve months, month by month and as a whole.",
        currencies=_array({"type": "string"}), months=_array(_ref("PeriodMetrics")),
        window=_ref("PeriodMetrics"), pending_approvals={"type": "integer"},
        oldest_pending_hours=_nullable(_DECIMAL)),
    "AssignRequest": {
        "type": "object", "additionalProperties": False,
        "description": "Exactly one of invoice (an open invoice id) or client (a client id).",
        "properties": {"invoice": {"type": "string", "minLength": 1},
                       "client": {"type": "string", "minLength": 1}},
        "oneOf": [{"required": ["invoice"]}, {"required": ["client"]}]},
    "Assignment": _object(
        "What the engine decided on the payment.assigned event the request recorded.",
        payment={"type": "string"}, event={"type": "string"},
        outcome={"type": "string",
                 "enum": ["applied", "refused", "pending", "invalid", "not_waiting"]},
        message={"type": "string"},
        allocations=_array({"type": "object", "additionalProperties": {"type": "string"}}),
        credit=_nullable(_DECIMAL)),
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _dated(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return _object("The agency-local day the answer is as of, and the answer.",
                   as_of=_DATE, **{key: schema})


_ERROR = _ref("Error")
_UNAUTHORIZED = _json(_ERROR, "Not signed in and no valid personal token.")
_FORBIDDEN = _json(_ERROR, "Finance only.")


def _get(summary: str, description: str, ok: dict[str, Any], *, finance: bool = False,
         parameters: list[dict[str, Any]] | None = None, not_found: bool = False,
         ) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json(ok, "OK"), "401": _UNAUTHORIZED}
    if finance:
        responses["403"] = _FORBIDDEN
    if not_found:
        responses["404"] = _json(_ERROR, "Unknown, or not among the clients you can see.")
    operation: dict[str, Any] = {"summary": summary, "description": description,
                                 "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    return {"get": operation}


def _parameter(name: str, where: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path",
            "description": description, "schema": {"type": "string"}}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the JSON API."""
    assign_responses = {
        "200": _json(_ref("Assignment"), "Applied: the payment is allocated."),
        "202": _json(_ref("Assignment"), "Recorded; the engine has not decided yet."),
        "401": _UNAUTHORIZED,
        "403": _json(_ERROR, "Finance only, or a session POST without X-CSRF-Token."),
        "404": _json(_ref("Assignment"), "No such payment is waiting to be assigned."),
        "422": {"description": "Refused by the engine (with its reason), or a malformed body.",
                "content": {"application/json": {"schema": {
                    "anyOf": [_ref("Assignment"), _ERROR]}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "billflow billing status API", "version": "1",
                 "description": "Billing status per client, the finance queue and the "
                                "metrics, as the pages show them. Authenticate with a "
                                "personal token (Authorization: Bearer ...) or a session."},
        "security": [{"personalToken": []}, {"session": []}],
        "paths": {
            "/api/v1/clients": _get(
                "The clients you may see", "An account lead's clients; finance: every "
                "client. `lead` narrows the list to one account lead's clients.",
                _dated("clients", _array(_ref("ClientStatus"))),
                parameters=[_parameter("lead", "query", "Person id of an account lead.")]),
            "/api/v1/clients/{client}": _get(
                "One client's billing status", "Drafts, approvals, issued, overdue with "
                "their reminders, paid, credit and aging.", _dated("client", _ref("ClientStatus")),
                parameters=[_parameter("client", "path", "Client id.")], not_found=True),
            "/api/v1/queue": _get(
                "The finance queue", "Unmatched payments, dead letters, failed rule reloads "
                "and approvals past their deadline.", _dated("queue", _ref("FinanceQueue")),
                finance=True),
            "/api/v1/metrics": _get(
                "The metrics of the last twelve months", "DSO, days to pay, on-time rate, "
                "approval wait, touches per invoice and aging, per month and overall.",
                _dated("metrics", _ref("Trends"))),
            "/api/v1/payments/{payment}/assign": {"post": {
                "summary": "Assign an unmatched payment",
                "description": "Records a payment.assigned event by the caller through the "
                               "daemon's intake and waits briefly for the engine's decision.",
                "parameters": [_parameter("payment", "path", "Id of the payment.received "
                                                             "event.")],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("AssignRequest")}}},
                "responses": assign_responses}},
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "personalToken": {"type": "http", "scheme": "bearer",
                                  "description": "A personal token."},
                "session": {"type": "apiKey", "in": "cookie", "name": "billflow_session"},
            },
        },
    }
