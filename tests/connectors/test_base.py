"""The connector interface: messages as e-mail, deliveries, `${ENV}` resolution, secrets."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import connectors.base as base
from connectors.base import (
    Attachment, Connector, ConnectorContext, Delivery, Message, retry_after_seconds,
    safe_filename,
)
from engine.errors import ConnectorError

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


def make_message(**changes) -> Message:
    fields = dict(
        to=(("Inés Duarte", "ines@northwind.example"), ("", "ap@acme.example")),
        cc=(("Dana Ortiz", "dana@northwind.example"),),
        subject="Invoice NW-2026-00001 from Northwind Creative",
        body="Hello Inés,\n\nHere is your invoice — thank you.\n",
        reply_to=(("Sam Lee", "sam@northwind.example"),),
        headers=(("Message-ID", "<abc@billflow>"), ("X-Billflow-Action", "invoice.issued:a/b/c")),
        attachments=(Attachment("NW-2026-00001.pdf", "application/pdf", b"%PDF-1.4 test"),),
    )
    fields.update(changes)
    return Message(**fields)


def test_public_api_is_explicit():
    for name in base.__all__:
        assert hasattr(base, name), name
    assert {"Message", "Delivery", "Connector", "ConnectorContext"} <= set(base.__all__)


def test_message_becomes_a_real_rfc5322_message_with_its_attachment():
    mail = make_message().as_email("Northwind Billing <billing@northwind.example>", NOW)
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<abc@billflow>"
    assert parsed["Subject"] == "Invoice NW-2026-00001 from Northwind Creative"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ines@northwind.example",
                                                            "ap@acme.example"]
    assert parsed["To"].addresses[0].display_name == "Inés Duarte"
    assert parsed["Cc"].addresses[0].addr_spec == "dana@northwind.example"
    assert parsed["Reply-To"].addresses[0].addr_spec == "sam@northwind.example"
    assert parsed["Date"].datetime == NOW
    assert "thank you" in parsed.get_body(("plain",)).get_content()
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "NW-2026-00001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"


def test_message_with_html_alternative():
    mail = make_message(attachments=(), html_body="<p>Hello</p>").as_email("a@b.example", NOW)
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hello</p>"


def test_message_recipients_and_headers():
    message = make_message(cc=(("Again", "ap@acme.example"), ("Dana", "dana@northwind.example")))
    assert message.recipients == ("ines@northwind.example", "ap@acme.example",
                                  "dana@northwind.example")
    assert message.header("message-id") == message.message_id == "<abc@billflow>"
    assert message.header("X-Missing") is None


def test_delivery_keys_on_the_action_id_and_exposes_the_invoice():
    action = {"id": "invoice.issued:acme/social/2026-03", "type": "invoice.issued",
              "payload": {"invoice": {"id": "acme/social/2026-03"}}}
    delivery = Delivery.of(action)
    assert delivery.idempotency_key == "invoice.issued:acme/social/2026-03"
    assert delivery.type == "invoice.issued"
    assert delivery.invoice == {"id": "acme/social/2026-03"}
    action["id"] = "changed"
    assert delivery.action["id"] == "invoice.issued:acme/social/2026-03"
    with pytest.raises(AttributeError):
        delivery.link = "x"  # frozen


def test_safe_filename():
    assert safe_filename("NW-2026-00001") == "NW-2026-00001"
    assert safe_filename("a/b:c d") == "a_b_c_d"
    assert safe_filename("../..") == "_"


def test_resolve_replaces_env_references_everywhere():
    context = ConnectorContext(env={"HOST": "smtp.example.net", "PORT": "2525"})
    resolved = context.resolve({"host": "${HOST}", "url": "https://${HOST}:${PORT}/x",
                                "list": ["${PORT}", 3], "flag": True}, "connector 'mail'")
    assert resolved == {"host": "smtp.example.net", "url": "https://smtp.example.net:2525/x",
                        "list": ["2525", 3], "flag": True}


def test_unknown_env_variable_is_a_permanent_error_naming_it_and_no_value():
    context = ConnectorContext(env={"SMTP_PASSWORD": "hunter2-secret"})
    with pytest.raises(ConnectorError) as caught:
        context.resolve("${SMTP_PASSWORD}:${SMTP_USER}", "connector 'mail': option 'auth'")
    assert caught.value.retryable is False
    assert "SMTP_USER" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)
    assert str(caught.value) == ("connector 'mail': option 'auth': environment variable "
                                 "SMTP_USER is not set")


def test_logger_and_errors_never_show_a_resolved_secret(caplog):
    context = ConnectorContext(env={"TOKEN": "xoxb-very-secret-token"},
                               logger=logging.getLogger("test.billflow"))
    token = context.resolve("${TOKEN}", "here")
    connector = Connector("chat", {}, context)
    with caplog.at_level(logging.INFO, logger="test.billflow"):
        connector.log.info("calling with %s", token)
        connector.log.warning("url https://hooks.example/" + token)
    assert "xoxb-very-secret-token" not in caplog.text
    assert caplog.text.count("***") == 2
    assert "xoxb" not in str(connector.fail(f"failed {token}", retryable=True))


def test_marked_secrets_are_redacted_but_short_values_are_not():
    context = ConnectorContext()
    context.mark_secret("pa55word!")
    context.mark_secret("587")
    assert context.redact("login pa55word! on 587") == "login *** on 587"


def test_http_client_factory_lets_tests_pass_a_mock_transport():
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    context = ConnectorContext(http_client_factory=lambda **kw: httpx.Client(transport=transport,
                                                                             **kw))
    with context.http_client(timeout=1) as client:
        assert client.post("https://example.test/x").status_code == 204


def test_clock_is_injectable():
    assert ConnectorContext(clock=lambda: NOW).now() == NOW
    assert ConnectorContext().now().tzinfo is not None


def test_base_connector_refuses_what_it_does_not_consume():
    connector = Connector("x", {}, ConnectorContext())
    delivery = Delivery.of({"id": "a", "type": "invoice.issued", "payload": {}})
    with pytest.raises(ConnectorError) as caught:
        connector.require_consumed(delivery)
    assert caught.value.retryable is False
    with pytest.raises(ConnectorError):
        connector.deliver(delivery)
    with connector:
        pass  # close() is safe


def test_number_option_reads_env_text_and_refuses_nonsense():
    connector = Connector("x", {"port": "2525", "timeout": "abc"}, ConnectorContext())
    assert connector.number_option("port", 25, int) == 2525
    assert connector.number_option("missing", 7.5) == 7.5
    with pytest.raises(ConnectorError, match="option 'timeout' must be a number"):
        connector.number_option("timeout", 30.0)


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("30", NOW) == 30.0
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(later, NOW) == 90.0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None
