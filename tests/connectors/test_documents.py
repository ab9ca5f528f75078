"""The invoice as HTML and PDF: the same content, printable, byte-stable."""

from __future__ import annotations

import copy
import dataclasses
import re
import zlib

from decimal import Decimal

import pytest

from connectors.documents import invoice_html, invoice_pdf, invoice_sheet, to_latin1
from engine.model.money import display_money
from engine.ruleset.templates import longdate
from engine.ruleset.types import Tax


def pdf_text(pdf: bytes) -> str:
    """Return the text drawn by a PDF's content streams (enough to find words in it)."""
    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            chunks.append(stream.decode("latin-1"))
    drawn = re.findall(r"\((.*?)(?<!\\)\)\s*Tj", "\n".join(chunks))
    return "\n".join(text.replace("\\(", "(").replace("\\)", ")") for text in drawn)


@pytest.fixture()
def taxed(first_of, rules):
    action = first_of("invoice.issued", taxed=True)
    invoice = action["payload"]["invoice"]
    return invoice, rules.clients[invoice["client"]], rules.agency


def shown(invoice: dict, key: str) -> str:
    return display_money(Decimal(invoice[key]), invoice["currency"])


def tax_label(client) -> str:
    return f"{client.tax.label} ({client.tax.rate.normalize():f}%)"


def test_sheet_has_everything_an_invoice_shows(taxed):
    invoice, client, agency = taxed
    sheet = invoice_sheet(invoice, client, agency)
    facts = dict(sheet.facts)
    assert facts["Invoice number"] == invoice["number"]
    assert facts["Issue date"] == longdate(invoice["issue_date"])
    assert facts["Due date"] == longdate(invoice["due_date"])
    assert facts["Period"] == (f"{longdate(invoice['period']['start'])} to "
                               f"{longdate(invoice['period']['end'])}")
    totals = dict(sheet.totals)
    assert totals["Subtotal"] == shown(invoice, "subtotal")
    assert totals[tax_label(client)] == shown(invoice, "tax")
    assert totals["Total"] == sheet.balance == f"{shown(invoice, 'total')} {invoice['currency']}"
    assert sheet.agency_address[0] == agency.address.splitlines()[0]
    assert sheet.payment_instructions[0].startswith("Please pay by bank transfer")
    assert sheet.status_note is None


def test_html_invoice_is_self_contained_and_complete(taxed):
    invoice, client, agency = taxed
    page = invoice_html(invoice, client, agency)
    assert page.startswith("<!DOCTYPE html>")
    for needle in (agency.name, agency.address.splitlines()[1], client.name,
                   client.billing_contacts[0].email, invoice["number"], "Issue date", "Due date",
                   "Period", "Subtotal", tax_label(client), f"{shown(invoice, 'total')} {invoice['currency']}",
                   "Balance due", agency.payment_instructions.splitlines()[0], 'class="num"'):
        assert needle.replace("&", "&amp;") in page, needle
    assert "http" not in page.lower().replace("https://json", "")  # no external assets
    assert "<script" not in page


def test_html_escapes_what_it_prints(taxed):
    invoice, client, agency = taxed
    invoice = copy.deepcopy(invoice)
    invoice["lines"][0]["description"] = "<b>Design</b> & build"
    page = invoice_html(invoice, client, agency)
    assert "&lt;b&gt;Design&lt;/b&gt; &amp; build" in page
    assert "<b>Design</b>" not in page


def test_pdf_has_the_same_content_and_is_byte_stable(taxed):
    invoice, client, agency = taxed
    pdf = invoice_pdf(invoice, client, agency)
    assert pdf.startswith(b"%PDF-")
    assert pdf == invoice_pdf(invoice, client, agency)
    text = pdf_text(pdf)
    for needle in ("INVOICE", agency.name, client.name, invoice["number"], "Subtotal",
                   tax_label(client), f"{shown(invoice, 'total')} {invoice['currency']}", "Balance due", "PAYMENT",
                   "Page 1 of"):
        assert needle in text, needle


def test_pdf_survives_characters_outside_latin1_and_long_invoices(taxed):
    invoice, client, agency = taxed
    invoice = copy.deepcopy(invoice)
    line = dict(invoice["lines"][0], description="Workshop — Łódź ≥ 2 days, “notes”… 東京")
    invoice["lines"] = [line] * 60
    pdf = invoice_pdf(invoice, client, agency)
    text = pdf_text(pdf)
    assert "Workshop - Lódz >= 2 days, \"notes\"... ??" in text
    assert "Page 2 of" in text


def test_drafts_exempt_clients_and_part_payments(first_of, rules):
    draft = first_of("approval.requested")["payload"]["invoice"]
    client = dataclasses.replace(rules.clients[draft["client"]], tax=Tax(None, None))
    draft = dict(draft, tax="0.00", total=draft["subtotal"], balance=draft["subtotal"])
    sheet = invoice_sheet(draft, client, rules.agency)
    assert dict(sheet.facts)["Invoice number"] == "Not yet numbered"
    assert sheet.status_note == "Draft: awaiting approval"
    assert "Tax (exempt)" in dict(sheet.totals)
    issued = first_of("invoice.issued")["payload"]["invoice"]
    part_paid = dict(issued, balance="100.00")
    sheet = invoice_sheet(part_paid, rules.clients[issued["client"]], rules.agency)
    paid = Decimal(issued["total"]) - Decimal("100.00")
    assert dict(sheet.totals)["Paid"] == display_money(paid, issued["currency"])
    assert sheet.balance == f"100.00 {issued['currency']}"


def test_to_latin1():
    assert to_latin1("Zürich — 5 € ≥ 3") == "Zürich - 5 EUR >= 3"
    assert to_latin1("Łukasz Œuvre ő") == "Lukasz OEuvre o"
    assert to_latin1("❤") == "?"
