"""The compact digest set behaves as a set of 8-byte digests, at a fraction of the memory."""

from __future__ import annotations

import os
import random

from engine.core.digests import DigestSet, digest


def test_a_digest_is_eight_stable_bytes() -> None:
    assert digest("harvest:2418300247") == digest("harvest:2418300247")
    assert len(digest("x")) == 8 and digest("x") != digest("y")


def test_it_agrees_with_a_set_through_adds_and_discards() -> None:
    rnd = random.Random(7)
    values = [rnd.randbytes(8) for _ in range(20_000)]
    values += [values[0][:2] + rnd.randbytes(6) for _ in range(200)]  # one crowded pack
    packed: DigestSet = DigestSet()
    plain: set[bytes] = set()
    for i, value in enumerate(values):
        assert packed.add_new(value) == (value not in plain)
        plain.add(value)
        if i % 97 == 0:
            gone = rnd.choice(values[:i + 1])
            packed.discard(gone)
            plain.discard(gone)
            assert gone not in packed
        if i % 101 == 0:
            again = values[rnd.randrange(i + 1)]
            assert packed.add_new(again) == (again not in plain)
            plain.add(again)
    assert len(packed) == len(plain)
    assert set(packed) == plain and packed == plain == DigestSet(plain)
    assert all(value in packed for value in plain)
    assert not any(os.urandom(8) in packed for _ in range(1000))


def test_a_match_across_two_digests_is_not_a_member() -> None:
    first = b"\x00\x01AA\x00\x01CC"
    second = b"\x00\x01BBBBBB"
    straddling = b"\x00\x01CC\x00\x01BB"  # bytes 4..11 of the pack: not a digest in it
    packed = DigestSet([first, second])
    assert straddling not in packed
    assert packed.add_new(straddling) and straddling in packed and len(packed) == 3
    packed.discard(straddling)
    assert straddling not in packed and set(packed) == {first, second}


def test_only_eight_byte_digests_are_members() -> None:
    packed = DigestSet([digest("a")])
    assert "a" not in packed and digest("a")[:7] not in packed and None not in packed


def test_the_text_methods_are_the_digest_methods_in_one_call() -> None:
    by_text, by_digest = DigestSet(), DigestSet()
    texts = [f"harvest:{2418300000 + i}" for i in range(3_000)] + ["", "é", "a" * 500]
    for text in texts + texts[::7]:
        assert by_text.add_text(text) == by_digest.add_new(digest(text))
    assert by_text == by_digest and len(by_text) == len(texts)
    assert all(by_text.has_text(text) for text in texts)
    assert not any(by_text.has_text(f"toggl:{i}") for i in range(1_000))


def test_a_digest_is_the_xxh3_of_the_utf8_text() -> None:
    # Snapshot format 2 holds these digests: changing the function needs a new format.
    assert digest("harvest:2418300247").hex() == "99789c24cbc3f179"


def test_discard_all_removes_a_run_of_digests_like_discarding_each() -> None:
    rnd = random.Random(11)
    values = [rnd.randbytes(8) for _ in range(5_000)]
    values += [values[0][:2] + rnd.randbytes(6) for _ in range(50)]  # one crowded pack
    packed = DigestSet(values)
    gone = rnd.sample(values, 1_500) + [rnd.randbytes(8) for _ in range(20)]  # some absent
    assert packed.discard_all(bytearray(b"".join(gone))) == 1_500
    kept = set(values) - set(gone)
    assert len(packed) == len(kept) and set(packed) == kept
    assert packed.discard_all(b"") == 0


def test_discard_all_leaves_a_match_across_two_digests_alone() -> None:
    first, second = b"\x00\x01AA\x00\x01CC", b"\x00\x01BBBBBB"
    straddling = b"\x00\x01CC\x00\x01BB"
    packed = DigestSet([first, straddling, second])
    assert packed.discard_all(straddling) == 1
    assert set(packed) == {first, second}
    assert packed.discard_all(straddling + first) == 1 and set(packed) == {second}
