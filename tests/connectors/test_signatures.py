"""Webhook signatures: HMAC of the raw bytes, hex or base64, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac

from connectors.signatures import hmac_matches, hmac_signature

BODY = b'{"events":[{"resource":{"gid":"1204"}}]}'


def test_hex_and_base64_match_the_standard_library() -> None:
    digest = hmac.new(b"secret", BODY, hashlib.sha256).digest()
    assert hmac_signature("secret", BODY) == digest.hex()
    assert hmac_signature(b"secret", BODY, encoding="base64") == base64.b64encode(digest).decode()


def test_a_right_signature_matches_in_either_case_of_hex() -> None:
    signature = hmac_signature("secret", BODY)
    assert hmac_matches("secret", BODY, signature)
    assert hmac_matches("secret", BODY, signature.upper())
    assert hmac_matches("secret", BODY, f"sha256={signature}", prefix="sha256=")
    assert hmac_matches("secret", BODY, hmac_signature("secret", BODY, encoding="base64"),
                        encoding="base64")


def test_anything_else_does_not() -> None:
    signature = hmac_signature("secret", BODY)
    assert not hmac_matches("other", BODY, signature)
    assert not hmac_matches("secret", BODY + b" ", signature)  # re-serialised bodies differ
    assert not hmac_matches("secret", BODY, None)
    assert not hmac_matches("secret", BODY, "")
    assert not hmac_matches("", BODY, signature)
    assert not hmac_matches("secret", BODY, signature, prefix="sha256=")
    assert not hmac_matches("secret", BODY, "sha256=ünïcode", prefix="sha256=")
