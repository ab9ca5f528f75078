"""Compact sets of 64-bit digests: the ids the engine must remember forever.

Intake is idempotent (an event id is seen once) and a time entry is billed once, ever,
so the ids of every event and every billed entry are remembered for the life of the
state, as 8-byte XXH3 digests (`digest`). In a Python set each costs about 75 bytes
(the bytes object and its slot); a DigestSet packs them at about 9. XXH3 is a
non-cryptographic 64-bit hash with full avalanche: two different ids share a digest
with odds of about one in 2^64 per pair (about 3 in 10^8 among a million ids), the same
as a 64-bit BLAKE2b, at a seventh of its cost per id — and every event pays for two.

The digests are split by their first 16 bits into 65,536 packs (a small set uses fewer
bits, and fewer packs), each a `bytes` of
8-byte digests one after the other. A look-up is a C-level byte search of one pack (a few
dozen digests at a million ids) that keeps only a match at an 8-byte boundary; an
insertion replaces the pack with one 8 bytes longer (a pack is one object, its header and
digests in one block, so a look-up touches a single object). Nothing ever re-sorts or
rehashes the whole set: the cost of an id grows only with one pack's length, a few hundred
bytes at a million ids.

That is the pure-Python form, `PackedDigestSet`. Every event and every billed entry goes
through the set, and in Python each operation spends most of its few hundred nanoseconds
interpreting the bookkeeping around a few dozen of real work; so billflow also builds the
same set in C (`engine/core/_digestset.c`: an open-addressing table of the 64-bit digests,
10.7 to 21 bytes a digest), with the same interface and the same digests, and `DigestSet`
is that compiled form wherever the install could build it (`COMPILED`). The two are
tested alike (tests/core/test_digests.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from xxhash import xxh3_64_digest as _xxh3

__all__ = ["COMPILED", "DigestSet", "PackedDigestSet", "digest"]

_NONE = b""  # the pack of a prefix no digest has yet


def digest(text: str) -> bytes:
    """Return a stable 64-bit digest of `text` (for the remembered-forever id sets)."""
    return _xxh3(text.encode())


def _find(pack: bytes, value: bytes) -> int:
    """Return where `value` starts in `pack` at an 8-byte boundary, or -1."""
    at = pack.find(value)
    while at >= 0 and at & 7:
        at = pack.find(value, at + 1)  # a match across two digests is none
    return at


class PackedDigestSet:
    """A set of 8-byte digests in about 9 bytes each; see the module docstring."""

    __slots__ = ("_packs", "_size", "_shift")

    def __init__(self, digests: Iterable[bytes] = (), *, prefix_bits: int = 16) -> None:
        """`prefix_bits` (1-16) of each digest choose its pack: 16 for a set of millions,
        fewer for a small one (12: 4,096 packs, 32 KB of list instead of 512)."""
        if not 1 <= prefix_bits <= 16:
            raise ValueError(f"prefix_bits is 1 to 16, not {prefix_bits}")
        self._packs: list[bytes] = [_NONE] * (1 << prefix_bits)
        self._shift = 16 - prefix_bits
        self._size = 0
        for value in digests:
            self.add(value)

    @property
    def prefix_bits(self) -> int:
        return 16 - self._shift

    def __len__(self) -> int:
        return self._size

    def __contains__(self, value: object) -> bool:
        if type(value) is not bytes or len(value) != 8:
            return False
        pack = self._packs[(value[0] << 8 | value[1]) >> self._shift]
        at = pack.find(value)
        return at >= 0 and (not at & 7 or _find(pack, value) >= 0)

    def has_text(self, text: str) -> bool:
        """Tell whether the digest of `text` is in the set (`digest(text) in self`)."""
        value = _xxh3(text.encode())
        pack = self._packs[(value[0] << 8 | value[1]) >> self._shift]
        at = pack.find(value)
        return at >= 0 and (not at & 7 or _find(pack, value) >= 0)

    def add_text(self, text: str) -> bool:
        """Add the digest of `text`; return False if it was there already.

        `add_new(digest(text))` in one call: every event and every billed entry comes
        through here, so the look-up and the insertion are written out in place.
        """
        value = _xxh3(text.encode())
        packs = self._packs
        index = (value[0] << 8 | value[1]) >> self._shift
        pack = packs[index]
        at = pack.find(value)
        if at >= 0 and (not at & 7 or _find(pack, value) >= 0):
            return False
        packs[index] = pack + value
        self._size += 1
        return True

    def add_texts(self, texts: Iterable[str]) -> bytes:
        """Add the digest of each text; return the digests that were new, one after the
        other (what a month's log of billed entries keeps)."""
        added = bytearray()
        for text in texts:
            value = _xxh3(text.encode())
            if self.add_new(value):
                added += value
        return bytes(added)

    def add_new(self, value: bytes) -> bool:
        """Add `value` (8 bytes); return False if it was there already."""
        index = (value[0] << 8 | value[1]) >> self._shift
        pack = self._packs[index]
        at = pack.find(value)
        if at >= 0 and (not at & 7 or _find(pack, value) >= 0):
            return False
        # A new bytes object per insertion keeps each pack's header and digests in one
        # block: a look-up touches one object, not an object and a separate buffer.
        self._packs[index] = pack + value
        self._size += 1
        return True

    def add(self, value: bytes) -> None:
        if type(value) is not bytes or len(value) != 8:
            raise ValueError(f"a digest is 8 bytes, not {value!r}")
        self.add_new(value)

    def discard(self, value: bytes) -> None:
        if type(value) is not bytes or len(value) != 8:
            return
        index = (value[0] << 8 | value[1]) >> self._shift
        pack = self._packs[index]
        at = _find(pack, value)
        if at >= 0:
            self._packs[index] = pack[:at] + pack[at + 8:]
            self._size -= 1

    def discard_all(self, values: bytes | bytearray) -> int:
        """Remove every digest of `values` (8-byte digests one after the other) that is in
        the set; return how many were. `discard` for a month's worth at once."""
        values = bytes(values)
        packs, shift = self._packs, self._shift
        removed = 0
        for at in range(0, len(values), 8):
            value = values[at:at + 8]
            index = (value[0] << 8 | value[1]) >> shift
            pack = packs[index]
            where = pack.find(value)
            if where < 0 or where & 7 and (where := _find(pack, value)) < 0:
                continue
            packs[index] = pack[:where] + pack[where + 8:]
            removed += 1
        self._size -= removed
        return removed

    def __iter__(self) -> Iterator[bytes]:
        for pack in self._packs:
            for at in range(0, len(pack), 8):
                yield pack[at:at + 8]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (PackedDigestSet, set, frozenset)):
            return len(self) == len(other) and all(value in self for value in other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"DigestSet(<{self._size} digests>)"


try:
    from engine.core._digestset import DigestSet as _Compiled  # type: ignore[import-not-found]
except ImportError:  # built without a C compiler: the pure-Python form, slower
    _Compiled = None
COMPILED = _Compiled is not None
"""Whether `DigestSet` is the compiled form."""

if TYPE_CHECKING:
    DigestSet = PackedDigestSet  # the compiled form has the same interface
else:
    DigestSet = _Compiled if COMPILED else PackedDigestSet
