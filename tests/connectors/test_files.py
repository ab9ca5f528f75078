"""The files connector: invoices as HTML and PDF, messages as .eml, atomic and idempotent."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from connectors.base import ConnectorContext, Delivery
from connectors.files import FilesConnector, mail_filename
from engine.errors import ConnectorError
from engine.runtime.messages import build_delivery, message_id


@pytest.fixture()
def files(tmp_path, rules):
    return FilesConnector("files", {"dir": str(tmp_path / "out")}, ConnectorContext(rules))


def read_eml(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def every_file(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_issued_invoice_is_written_as_html_pdf_and_mail(files, rules, first_of, tmp_path):
    action = first_of("invoice.issued")
    number = action["payload"]["invoice"]["number"]
    receipt = files.deliver(build_delivery(rules, action))
    out = tmp_path / "out"
    assert (out / "invoices" / f"{number}.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "invoices" / f"{number}.pdf").read_bytes().startswith(b"%PDF-")
    mail = read_eml(out / "mail" / mail_filename(action["id"]))
    assert mail["Message-ID"] == message_id(action["id"])
    assert mail["Subject"] == f"Invoice {number} from {rules.agency.name}"
    # The sender is the one the agency's mail connector would use.
    assert mail["From"] == rules.agency.connectors["mail"].options["from"]
    assert {a.addr_spec for a in mail["To"].addresses} == {
        c.email for c in rules.clients[action["client"]].billing_contacts}
    [pdf] = list(mail.iter_attachments())
    assert pdf.get_filename() == f"{number}.pdf"
    assert pdf.get_content().startswith(b"%PDF-")
    assert receipt.detail.startswith("wrote invoices/")
    assert receipt.external_id == f"invoices/{number}.html"


def test_the_same_action_rewrites_the_same_files_byte_for_byte(files, rules, first_of, tmp_path):
    action = first_of("invoice.issued")
    files.deliver(build_delivery(rules, action))
    first = every_file(tmp_path / "out")
    files.deliver(build_delivery(rules, action))
    assert every_file(tmp_path / "out") == first
    assert len(first) == 3
    assert not [name for name in first if name.endswith(".tmp")]


@pytest.mark.parametrize("action_type", ["approval.requested", "approval.reminded",
                                         "approval.escalated", "reminder.sent",
                                         "escalation.triggered"])
def test_every_message_becomes_an_eml(files, rules, first_of, tmp_path, action_type):
    action = first_of(action_type)
    files.deliver(build_delivery(rules, action))
    written = every_file(tmp_path / "out")
    assert list(written) == [f"mail/{mail_filename(action['id'])}"]
    mail = read_eml(tmp_path / "out" / "mail" / mail_filename(action["id"]))
    assert mail["X-Billflow-Action"] == action["id"]
    assert mail.get_body(("plain",)).get_content().strip()


def test_a_bare_delivery_is_rendered_by_the_connector(files, first_of, tmp_path):
    action = first_of("invoice.issued")
    files.deliver(Delivery.of(action))
    assert len(every_file(tmp_path / "out")) == 3


def test_formats_choose_what_is_written(tmp_path, rules, first_of):
    connector = FilesConnector("files", {"dir": str(tmp_path), "formats": ["pdf"]},
                               ConnectorContext(rules))
    connector.deliver(build_delivery(rules, first_of("invoice.issued")))
    assert [p.suffix for p in tmp_path.rglob("*") if p.is_file()] == [".pdf"]


def test_mail_file_names_are_readable_and_distinct():
    a, b = mail_filename("reminder.sent:a_b/x:-3d"), mail_filename("reminder.sent:a/b_x:-3d")
    assert a.startswith("reminder.sent_a_b_x_-3d-") and a.endswith(".eml")
    assert a != b


def test_unconsumed_action_types_are_refused(files, first_of):
    with pytest.raises(ConnectorError) as caught:
        files.deliver(Delivery.of(first_of("invoice.drafted")))
    assert caught.value.retryable is False


def test_an_unusable_folder_is_a_permanent_error(tmp_path, rules, first_of):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    connector = FilesConnector("files", {"dir": str(blocker)}, ConnectorContext(rules))
    with pytest.raises(ConnectorError) as caught:
        connector.deliver(build_delivery(rules, first_of("invoice.issued")))
    assert caught.value.retryable is False
    with pytest.raises(ConnectorError):
        connector.check()


def test_check_reports_the_folder_and_leaves_nothing_behind(files, tmp_path):
    assert "writes to" in files.check()
    assert every_file(tmp_path / "out") == {}
