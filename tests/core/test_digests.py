"""The compact digest set behaves as a set of 8-byte digests, at a fraction of the memory.

Every test runs against both forms: the compiled one billflow uses when it could be built,
and the pure-Python one it falls back to.
"""

from __future__ import annotations

import copy
import os
import pickle
import random
from typing import Any

import pytest

from engine.core import digests
from engine.core.digests import PackedDigestSet, digest

FORMS = [pytest.param(PackedDigestSet, id="packed")]
if digests.COMPILED:
    FORMS.append(pytest.param(digests.DigestSet, id="compiled"))


@pytest.fixture(params=FORMS)
def DigestSet(request: pytest.FixtureRequest) -> Any:  # noqa: N802 - the class under test
    return request.param


def test_the_compiled_form_is_built_where_ci_runs() -> None:
    # A fresh install compiles it (setup.py); CI fails rather than silently measuring and
    # testing only the fallback.
    if os.environ.get("CI"):
        assert digests.COMPILED, "engine.core._digestset was not built"
    if digests.COMPILED:
        assert digests.DigestSet is not PackedDigestSet


def test_a_digest_is_eight_stable_bytes() -> None:
    assert digest("harvest:2418300247") == digest("harvest:2418300247")
    assert len(digest("x")) == 8 and digest("x") != digest("y")


def test_it_agrees_with_a_set_through_adds_and_discards(DigestSet: Any) -> None:
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


def test_a_match_across_two_digests_is_not_a_member(DigestSet: Any) -> None:
    first = b"\x00\x01AA\x00\x01CC"
    second = b"\x00\x01BBBBBB"
    straddling = b"\x00\x01CC\x00\x01BB"  # bytes 4..11 of the pack: not a digest in it
    packed = DigestSet([first, second])
    assert straddling not in packed
    assert packed.add_new(straddling) and straddling in packed and len(packed) == 3
    packed.discard(straddling)
    assert straddling not in packed and set(packed) == {first, second}


def test_only_eight_byte_digests_are_members(DigestSet: Any) -> None:
    packed = DigestSet([digest("a")])
    assert "a" not in packed and digest("a")[:7] not in packed and None not in packed


def test_the_text_methods_are_the_digest_methods_in_one_call(DigestSet: Any) -> None:
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


def test_discard_all_removes_a_run_of_digests_like_discarding_each(DigestSet: Any) -> None:
    rnd = random.Random(11)
    values = [rnd.randbytes(8) for _ in range(5_000)]
    values += [values[0][:2] + rnd.randbytes(6) for _ in range(50)]  # one crowded pack
    packed = DigestSet(values)
    gone = rnd.sample(values, 1_500) + [rnd.randbytes(8) for _ in range(20)]  # some absent
    assert packed.discard_all(bytearray(b"".join(gone))) == 1_500
    kept = set(values) - set(gone)
    assert len(packed) == len(kept) and set(packed) == kept
    assert packed.discard_all(b"") == 0


def test_discard_all_leaves_a_match_across_two_digests_alone(DigestSet: Any) -> None:
    first, second = b"\x00\x01AA\x00\x01CC", b"\x00\x01BBBBBB"
    straddling = b"\x00\x01CC\x00\x01BB"
    packed = DigestSet([first, straddling, second])
    assert packed.discard_all(straddling) == 1
    assert set(packed) == {first, second}
    assert packed.discard_all(straddling + first) == 1 and set(packed) == {second}


def test_both_forms_hold_the_same_digests_through_the_same_operations(DigestSet: Any) -> None:
    rnd = random.Random(5)
    texts = [f"harvest:{rnd.randrange(10**10)}" for _ in range(30_000)]
    reference, tested = PackedDigestSet(), DigestSet()
    for i, text in enumerate(texts):
        assert tested.add_text(text) == reference.add_text(text)
        if i % 3 == 0:
            earlier = texts[rnd.randrange(i + 1)]
            assert tested.has_text(earlier) == reference.has_text(earlier)
        if i % 11 == 0:
            gone = digest(texts[rnd.randrange(i + 1)])
            tested.discard(gone)
            reference.discard(gone)
    batch = texts[:500] + [f"toggl:{i}" for i in range(500)]
    assert tested.add_texts(batch) == reference.add_texts(batch)  # the same new ones, in order
    assert len(tested) == len(reference) and set(tested) == set(reference)
    run = b"".join(digest(text) for text in texts[::5])
    assert tested.discard_all(run) == reference.discard_all(run)
    assert set(tested) == set(reference)


def test_the_zero_digest_is_a_member_like_any_other(DigestSet: Any) -> None:
    zero = bytes(8)
    packed = DigestSet([zero, b"\x01" * 8])
    assert zero in packed and len(packed) == 2 and set(packed) == {zero, b"\x01" * 8}
    assert not packed.add_new(zero)
    packed.discard(zero)
    assert zero not in packed and len(packed) == 1
    assert packed.discard_all(zero + b"\x01" * 8) == 1 and len(packed) == 0


def test_a_copy_and_a_pickle_are_equal_and_independent(DigestSet: Any) -> None:
    packed = DigestSet((digest(str(i)) for i in range(1_000)), prefix_bits=12)
    for twin in (copy.deepcopy(packed), pickle.loads(pickle.dumps(packed))):
        assert twin == packed and twin.prefix_bits == 12
        twin.add_text("only in the copy")
        assert not packed.has_text("only in the copy")


def test_bad_input_is_refused_with_one_clear_error(DigestSet: Any) -> None:
    packed = DigestSet()
    with pytest.raises(ValueError, match="a digest is 8 bytes"):
        packed.add(b"short")
    with pytest.raises(ValueError, match="prefix_bits is 1 to 16"):
        DigestSet(prefix_bits=17)
    with pytest.raises(UnicodeEncodeError):
        packed.add_text("\ud800")  # a lone surrogate has no UTF-8, as str.encode says
    assert len(packed) == 0


def test_crowded_runs_across_the_table_end_survive_any_removal_order(DigestSet: Any) -> None:
    # A digest (x << 32) | (x ^ c) has its home slot at the low bits of c, whatever the
    # table's size: with c = 2**32 - 1 - t the homes are the table's last eight slots, so
    # the digests make one run that wraps around the table's end, with homes before and
    # after each hole. Every member must stay findable after each removal.
    rnd = random.Random(3)
    crowd = [((x << 32) | (x ^ (0xFFFFFFFF - t))).to_bytes(8, "big")
             for t in range(8) for x in range(1, 41)]
    others = [rnd.randbytes(8) for _ in range(100)]
    packed, plain = DigestSet(), set()
    for value in rnd.sample(crowd + others, len(crowd) + len(others)):
        packed.add(value)
        plain.add(value)
    for value in rnd.sample(sorted(plain), len(plain)):
        packed.discard(value)
        plain.discard(value)
        assert value not in packed
        assert all(member in packed for member in plain)
    assert len(packed) == 0 and list(packed) == []
