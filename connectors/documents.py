"""The invoice as a document for people: printable HTML and a PDF (fpdf2, core fonts).

Both renderings read one `InvoiceSheet`, so they always say the same thing: agency name and
address, the client and its billing contact, number, dates and period, the lines, subtotal,
tax with its label and rate, total, balance due and the payment instructions. The PDF is
byte-stable for the same invoice (its dates come from the invoice, not the clock).
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from engine.model.money import display_money
from engine.ruleset.templates import longdate
from engine.ruleset.types import Agency, Client

__all__ = ["InvoiceSheet", "invoice_sheet", "invoice_html", "invoice_pdf", "to_latin1"]


@dataclass(frozen=True)
class InvoiceSheet:
    """Everything printed on an invoice, already formatted for people."""

    title: str
    reference: str
    status_note: str | None
    agency_name: str
    agency_address: tuple[str, ...]
    client_name: str
    contacts: tuple[tuple[str, str], ...]
    facts: tuple[tuple[str, str], ...]
    currency: str
    lines: tuple[tuple[str, str, str, str], ...]
    totals: tuple[tuple[str, str], ...]
    balance_label: str
    balance: str
    payment_instructions: tuple[str, ...]
    issue_date: date | None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _rate(rate: Decimal) -> str:
    text = format(rate.normalize(), "f")
    return f"{text}%"


def invoice_sheet(invoice: Mapping[str, Any], client: Client, agency: Agency) -> InvoiceSheet:
    """Gather and format what an invoice shows, from its JSON object and the rules."""
    currency = str(invoice["currency"])
    number = invoice.get("number")
    status = str(invoice.get("status") or "")
    issue_date, due_date = _date(invoice.get("issue_date")), _date(invoice.get("due_date"))
    facts: list[tuple[str, str]] = [("Invoice number", number or "Not yet numbered")]
    if issue_date:
        facts.append(("Issue date", longdate(issue_date)))
    if due_date:
        facts.append(("Due date", longdate(due_date)))
    period = invoice.get("period")
    if isinstance(period, Mapping):
        facts.append(("Period", f"{longdate(period['start'])} to {longdate(period['end'])}"))
    facts.append(("Currency", currency))

    def money(key: str) -> str:
        return display_money(Decimal(str(invoice[key])), currency)

    lines = tuple(
        (str(line["description"]), str(line["quantity"]),
         f"{Decimal(str(line['unit_price'])):,f}", display_money(Decimal(str(line["amount"])), currency))
        for line in invoice.get("lines", ())
    )
    if client.tax.rate is not None:
        tax_label = f"{client.tax.label or 'Tax'} ({_rate(client.tax.rate)})"
    elif Decimal(str(invoice["tax"])) == 0:
        tax_label = "Tax (exempt)"
    else:
        tax_label = "Tax"
    totals = [("Subtotal", money("subtotal")), (tax_label, money("tax")),
              ("Total", f"{money('total')} {currency}")]
    paid = Decimal(str(invoice["total"])) - Decimal(str(invoice["balance"]))
    if paid > 0:
        totals.append(("Paid", display_money(paid, currency)))
    notes = {"draft": "Draft: not yet issued", "awaiting_approval": "Draft: awaiting approval",
             "flagged": "Draft: flagged for edits", "voided": "Void", "paid": "Paid in full",
             "disputed": "Disputed"}
    return InvoiceSheet(
        title="Invoice",
        reference=str(number or invoice["id"]),
        status_note=notes.get(status),
        agency_name=agency.name,
        agency_address=tuple(_text_lines(agency.address)),
        client_name=client.name,
        contacts=tuple((c.name, c.email) for c in client.billing_contacts),
        facts=tuple(facts),
        currency=currency,
        lines=lines,
        totals=tuple(totals),
        balance_label="Balance due",
        balance=f"{money('balance')} {currency}",
        payment_instructions=tuple(_text_lines(agency.payment_instructions)),
        issue_date=issue_date,
    )


def _text_lines(text: str | None) -> list[str]:
    return [line.rstrip() for line in (text or "").strip("\n").splitlines()]


# --- HTML ------------------------------------------------------------------------------

_CSS = """
@page { size: auto; margin: 18mm 16mm; }
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Helvetica, Arial, sans-serif; color: #1f2328;
       font-size: 10.5pt; line-height: 1.45; margin: 0; }
.sheet { max-width: 190mm; margin: 0 auto; padding: 8mm 0; }
header { display: flex; justify-content: space-between; align-items: flex-start;
         border-bottom: 2px solid #1f2328; padding-bottom: 5mm; }
.agency-name { font-size: 17pt; font-weight: 700; margin: 0 0 1mm; }
.muted { color: #59636e; }
.title { text-align: right; }
.title h1 { font-size: 22pt; letter-spacing: 0.08em; margin: 0; text-transform: uppercase; }
.status { display: inline-block; margin-top: 1mm; padding: 0.5mm 2mm; border: 1px solid #b35900;
          color: #b35900; font-size: 9pt; text-transform: uppercase; letter-spacing: 0.05em; }
.parties { display: flex; justify-content: space-between; gap: 10mm; margin: 6mm 0; }
.label { font-size: 8.5pt; text-transform: uppercase; letter-spacing: 0.06em; color: #59636e;
         margin: 0 0 1mm; }
table.facts td { padding: 0.6mm 0 0.6mm 6mm; text-align: right; }
table.facts td:first-child { color: #59636e; padding-left: 0; text-align: left; }
table.lines { width: 100%; border-collapse: collapse; margin-top: 2mm; }
table.lines th { background: #eef1f4; font-size: 8.5pt; text-transform: uppercase;
                 letter-spacing: 0.05em; text-align: left; padding: 2mm; }
table.lines td { padding: 2mm; border-bottom: 1px solid #d8dee4; vertical-align: top; }
table.lines .num { text-align: right; white-space: nowrap; }
table.totals { margin: 4mm 0 0 auto; border-collapse: collapse; min-width: 80mm; }
table.totals td { padding: 1mm 2mm; text-align: right; }
table.totals td:first-child { text-align: left; color: #59636e; padding-right: 10mm; }
table.totals tr.total td { font-weight: 700; color: #1f2328; border-top: 1px solid #1f2328; }
table.totals tr.balance td { font-weight: 700; font-size: 12pt; color: #1f2328;
                             background: #eef1f4; }
.payment { margin-top: 8mm; padding-top: 3mm; border-top: 1px solid #d8dee4; }
.payment p { margin: 0; white-space: pre-wrap; }
@media print { .sheet { padding: 0; } }
""".strip()


def invoice_html(invoice: Mapping[str, Any], client: Client, agency: Agency) -> str:
    """Render a self-contained, printable HTML invoice (no external assets)."""
    sheet = invoice_sheet(invoice, client, agency)
    e = html.escape
    address = "<br>".join(e(line) for line in sheet.agency_address)
    contacts = "".join(f"<div>{e(name)}</div><div class=\"muted\">{e(mail)}</div>"
                       for name, mail in sheet.contacts)
    facts = "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in sheet.facts)
    rows = "".join(
        f"<tr><td>{e(d)}</td><td class=\"num\">{e(q)}</td><td class=\"num\">{e(u)}</td>"
        f"<td class=\"num\">{e(a)}</td></tr>" for d, q, u, a in sheet.lines)
    totals = "".join(
        f"<tr class=\"{'total' if label == 'Total' else 'sum'}\"><td>{e(label)}</td>"
        f"<td>{e(value)}</td></tr>" for label, value in sheet.totals)
    status = f"<div class=\"status\">{e(sheet.status_note)}</div>" if sheet.status_note else ""
    payment = ""
    if sheet.payment_instructions:
        payment = ("<section class=\"payment\"><p class=\"label\">Payment</p><p>"
                   + e("\n".join(sheet.payment_instructions)) + "</p></section>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(sheet.title)} {e(sheet.reference)} from {e(sheet.agency_name)}</title>
<style>
{_CSS}
</style>
</head>
<body>
<div class="sheet">
<header>
  <div><p class="agency-name">{e(sheet.agency_name)}</p><div class="muted">{address}</div></div>
  <div class="title"><h1>{e(sheet.title)}</h1><div>{e(sheet.reference)}</div>{status}</div>
</header>
<section class="parties">
  <div><p class="label">Bill to</p><div><strong>{e(sheet.client_name)}</strong></div>{contacts}</div>
  <table class="facts">{facts}</table>
</section>
<table class="lines">
  <thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Unit price</th><th class="num">Amount ({e(sheet.currency)})</th></tr></thead>
  <tbody>{rows}</tbody>
</table>
<table class="totals">
  {totals}
  <tr class="balance"><td>{e(sheet.balance_label)}</td><td>{e(sheet.balance)}</td></tr>
</table>
{payment}
</div>
</body>
</html>
"""


# --- PDF -------------------------------------------------------------------------------

# Core PDF fonts only cover Latin-1: typographic characters get their plain equivalents.
_PLAIN = {
    "\u2014": "-", "\u2013": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2026": "...", "\u2022": "-", "\u2265": ">=", "\u2264": "<=", "\u2260": "!=",
    "\u2248": "~", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u20ac": "EUR", "\u2122": "(TM)",
    "\u2192": "->", "\u2190": "<-", "\u0141": "L", "\u0142": "l", "\u0110": "D",
    "\u0111": "d", "\u0131": "i", "\u0152": "OE", "\u0153": "oe",
}


def to_latin1(text: str) -> str:
    """Return `text` with every character a core PDF font cannot show replaced safely."""
    out = []
    for char in text:
        if char in _PLAIN:
            out.append(_PLAIN[char])
            continue
        try:
            char.encode("latin-1")
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        # Accented letters outside Latin-1 (e.g. "ő") keep their base letter.
        base = "".join(c for c in unicodedata.normalize("NFKD", char)
                       if not unicodedata.combining(c))
        try:
            out.append(base.encode("latin-1").decode("latin-1") if base else "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


_INK = (31, 35, 40)
_MUTED = (89, 99, 110)
_RULE = (216, 222, 228)
_SHADE = (238, 241, 244)


class _InvoicePDF(FPDF):
    """An FPDF page with the invoice's footer."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*_MUTED)
        self.cell(0, 5, f"{self.footer_text}  |  Page {self.page_no()} of {{nb}}", align="C")


def invoice_pdf(invoice: Mapping[str, Any], client: Client, agency: Agency) -> bytes:
    """Render the invoice as a PDF (letter size for agencies in the Americas, else A4)."""
    sheet = invoice_sheet(invoice, client, agency)
    t = to_latin1
    page = "letter" if agency.timezone.startswith("America/") else "A4"
    pdf = _InvoicePDF(format=page, unit="mm")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=20)
    pdf.footer_text = t(f"{sheet.agency_name}  |  Invoice {sheet.reference}")
    pdf.set_title(t(f"Invoice {sheet.reference}"))
    pdf.set_author(t(sheet.agency_name))
    pdf.set_creator("billflow")
    stamp = sheet.issue_date or date(2000, 1, 1)
    pdf.set_creation_date(datetime.combine(stamp, time(), tzinfo=timezone.utc))
    pdf.add_page()
    width = pdf.epw
    left = pdf.l_margin

    # Header: agency on the left, the word INVOICE and its reference on the right.
    top = pdf.get_y()
    pdf.set_text_color(*_INK)
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(width * 0.6, 7, t(sheet.agency_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.set_text_color(*_MUTED)
    for line in sheet.agency_address:
        pdf.cell(width * 0.6, 4.4, t(line), new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()
    pdf.set_xy(left + width * 0.5, top)
    pdf.set_text_color(*_INK)
    pdf.set_font("Helvetica", "B", 22)
    pdf.cell(width * 0.5, 9, sheet.title.upper(), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(width * 0.5, 5, t(sheet.reference), align="R", new_x="LEFT", new_y="NEXT")
    if sheet.status_note:
        pdf.set_font("Helvetica", "B", 9)
        pdf.set_text_color(179, 89, 0)
        pdf.cell(width * 0.5, 5, t(sheet.status_note.upper()), align="R", new_x="LEFT", new_y="NEXT")
    y = max(left_bottom, pdf.get_y()) + 3
    pdf.set_draw_color(*_INK)
    pdf.set_line_width(0.5)
    pdf.line(left, y, left + width, y)

    # Parties: bill-to on the left, the invoice facts on the right.
    y += 5
    pdf.set_xy(left, y)
    _label(pdf, "Bill to", width * 0.5)
    pdf.set_text_color(*_INK)
    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(width * 0.5, 5, t(sheet.client_name), new_x="LMARGIN", new_y="NEXT")
    for name, mail in sheet.contacts:
        pdf.set_font("Helvetica", "", 9.5)
        pdf.set_text_color(*_INK)
        pdf.cell(width * 0.5, 4.6, t(name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*_MUTED)
        pdf.cell(width * 0.5, 4.6, t(mail), new_x="LMARGIN", new_y="NEXT")
    parties_bottom = pdf.get_y()
    pdf.set_xy(left + width * 0.45, y)
    for key, value in sheet.facts:
        pdf.set_x(left + width * 0.45)
        pdf.set_font("Helvetica", "", 9.5)
        pdf.set_text_color(*_MUTED)
        pdf.cell(width * 0.2, 5.2, t(key))
        pdf.set_text_color(*_INK)
        pdf.cell(width * 0.35, 5.2, t(value), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(parties_bottom, pdf.get_y()) + 7)

    # Lines.
    pdf.set_draw_color(*_RULE)
    pdf.set_line_width(0.2)
    pdf.set_font("Helvetica", "", 9.5)
    pdf.set_text_color(*_INK)
    heading = FontFace(emphasis="BOLD", size_pt=8.5, color=_MUTED, fill_color=_SHADE)
    with pdf.table(col_widths=(96, 20, 30, 34), width=width,
                   text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
                   borders_layout="HORIZONTAL_LINES", headings_style=heading,
                   line_height=4.6, padding=(1.5, 2, 1.5, 2), v_align="TOP") as table:
        table.row(("DESCRIPTION", "QUANTITY", "UNIT PRICE", t(f"AMOUNT ({sheet.currency})")))
        for description, quantity, unit_price, amount in sheet.lines:
            table.row((t(description), quantity, unit_price, amount))

    # Totals, right-aligned under the amount columns.
    pdf.ln(3)
    pdf.c_margin = 2
    label_x, label_w, value_w = left + width - 100, 62, 38
    _keep_together(pdf, 6 * len(sheet.totals) + 11)
    for label, value in sheet.totals:
        bold = label == "Total"
        if bold:
            pdf.set_draw_color(*_INK)
            pdf.line(label_x, pdf.get_y(), left + width, pdf.get_y())
        pdf.set_x(label_x)
        pdf.set_font("Helvetica", "B" if bold else "", 10)
        pdf.set_text_color(*(_INK if bold else _MUTED))
        pdf.cell(label_w, 6, t(label))
        pdf.set_text_color(*_INK)
        pdf.cell(value_w, 6, t(value), align="R",
                 new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)
    pdf.set_x(label_x)
    pdf.set_fill_color(*_SHADE)
    pdf.set_font("Helvetica", "B", 11.5)
    pdf.cell(label_w, 9, t(sheet.balance_label), fill=True)
    pdf.cell(value_w, 9, t(sheet.balance), align="R", fill=True,
             new_x="LMARGIN", new_y="NEXT")

    # Payment instructions.
    if sheet.payment_instructions:
        pdf.ln(9)
        _keep_together(pdf, 12 + 4.6 * len(sheet.payment_instructions))
        pdf.set_draw_color(*_RULE)
        pdf.line(left, pdf.get_y(), left + width, pdf.get_y())
        pdf.ln(3)
        _label(pdf, "Payment", width)
        pdf.set_font("Helvetica", "", 9)
        pdf.set_text_color(*_INK)
        pdf.multi_cell(width, 4.6, t("\n".join(sheet.payment_instructions)),
                       new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _keep_together(pdf: FPDF, height: float) -> None:
    """Start a new page unless a block of `height` mm fits on this one."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def _label(pdf: FPDF, text: str, width: float) -> None:
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_text_color(*_MUTED)
    pdf.cell(width, 5, text.upper(), new_x="LMARGIN", new_y="NEXT")
