"""The `files` connector: issued invoices and every message that would be mailed, as files.

    <dir>/invoices/<number>.html, <number>.pdf     each issued invoice
    <dir>/mail/<action-id-slug>.eml                 each message, RFC 5322, attachments included

Every write goes to a temporary file in the same folder and is renamed into place, so a
reader never sees half a file; the same action always writes the same paths (and, since the
Date header is the action's time, the same bytes), so a retry is harmless.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from connectors.base import (
    MESSAGE_ACTION_TYPES, Connector, ConnectorContext, Delivery, DeliveryReceipt, safe_filename,
)

__all__ = ["FilesConnector", "mail_filename"]

_FORMATS = ("html", "pdf", "eml")
# Errors that retrying cannot fix: the folder is wrong, not the moment.
_PERMANENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR,
                     errno.ENAMETOOLONG, errno.EINVAL}


def mail_filename(action_id: str) -> str:
    """Return the .eml file name of an action's message: readable, unique, stable."""
    digest = hashlib.sha256(action_id.encode("utf-8")).hexdigest()[:8]
    return f"{safe_filename(action_id)}-{digest}.eml"


class FilesConnector(Connector):
    """Write invoices as HTML and PDF and messages as .eml files under one folder."""

    type = "files"
    consumes = MESSAGE_ACTION_TYPES
    produces = frozenset()

    def __init__(self, name: str, config, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self.root = Path(str(config["dir"])).expanduser()
        self.formats = frozenset(config.get("formats") or _FORMATS)

    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Write the invoice files and the message file of one action."""
        self.require_consumed(delivery)
        delivery = self.prepared(delivery)
        written: list[str] = []
        if delivery.type == "invoice.issued" and self.formats & {"html", "pdf"}:
            document = delivery.document
            if document is None:
                raise self.fail(f"{delivery.idempotency_key}: no invoice document to write",
                                retryable=False)
            folder = self.root / "invoices"
            if "html" in self.formats:
                written.append(self._write(folder / f"{document.stem}.html",
                                           document.html.encode("utf-8")))
            if "pdf" in self.formats:
                written.append(self._write(folder / f"{document.stem}.pdf", document.pdf))
        if "eml" in self.formats:
            message = delivery.message
            if message is not None:
                sent_at = datetime.fromisoformat(str(delivery.action["at"]))
                mail = message.as_email(self._sender(), sent_at)
                written.append(self._write(self.root / "mail" / mail_filename(delivery.idempotency_key),
                                           mail.as_bytes()))
        self.log.info("%s: wrote %s", delivery.idempotency_key, ", ".join(written) or "nothing")
        return DeliveryReceipt(external_id=written[0] if written else None,
                               detail=f"wrote {', '.join(written)}" if written else "nothing to write")

    def check(self) -> str:
        """Make sure the folder exists and can be written to."""
        probe = self._write(self.root / ".billflow-check", b"ok\n")
        os.unlink(self.root / probe)
        return f"files connector '{self.name}' writes to {self.root.resolve()} ({', '.join(sorted(self.formats))})"

    def _sender(self) -> str:
        """Return a From address: the agency's mail connector's, else one that cannot bounce."""
        rules = self.context.rules
        if rules is None:
            return "billflow <billflow@localhost.invalid>"
        for connector in rules.agency.connectors.values():
            sender = connector.options.get("from")
            if connector.type == "smtp" and isinstance(sender, str) and "${" not in sender:
                return sender
        return f"{rules.agency.name} <billing@{rules.agency.id}.invalid>"

    def _write(self, target: Path, data: bytes) -> str:
        """Write `data` to `target` atomically; return its path relative to the folder."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                                 suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            permanent = exc.errno in _PERMANENT_ERRNOS
            raise self.fail(f"cannot write {target.name}: {exc.strerror or exc}",
                            retryable=not permanent) from None
        return target.relative_to(self.root).as_posix()
