"""Compact sets of 64-bit digests: the ids the engine must remember forever.

Intake is idempotent (an event id is seen once) and a time entry is billed once, ever,
so the ids of every event and every billed entry are remembered for the life of the
state, as 8-byte XXH3 digests (`digest`). In a Python set each costs about 75 bytes
(the bytes object and its slot); a DigestSet packs them at about 9. XXH3 is a
non-cryptographic 64-bit hash with full avalanche: two different ids share a digest
with odds of about one in 2^64 per pair (about 3 in 10^8 among a million ids), the same
as a 64-bit BLAKE2b, at a seventh of its cost per id — and every event pays for two.

The digests are split by their first 16 bits into 65,536 packs, each a `bytes` of
8-byte digests one after the other. A look-up is a C-level byte search of one pack (a few
dozen digests at a million ids) that keeps only a match at an 8-byte boundary; an
insertion replaces the pack with one 8 bytes longer (a pack is one object, its header and
digests in one block, so a look-up touches a single object). Nothing ever re-sorts or
rehashes the whole set: the cost of an id grows only with one pack's length, a few hundred
bytes at a million ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from xxhash import xxh3_64_digest as _xxh3

__all__ = ["DigestSet", "digest"]

_PACKS = 1 << 16
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


class DigestSet:
    """A set of 8-byte digests in about 9 bytes each; see the module docstring."""

    __slots__ = ("_packs", "_size")

    def __init__(self, digests: Iterable[bytes] = ()) -> None:
        self._packs: list[bytes] = [_NONE] * _PACKS
        self._size = 0
        for value in digests:
            self.add(value)

    def __len__(self) -> int:
        return self._size

    def __contains__(self, value: object) -> bool:
        if type(value) is not bytes or len(value) != 8:
            return False
        pack = self._packs[value[0] << 8 | value[1]]
        at = pack.find(value)
        return at >= 0 and (not at & 7 or _find(pack, value) >= 0)

    def has_text(self, text: str) -> bool:
        """Tell whether the digest of `text` is in the set (`digest(text) in self`)."""
        value = _xxh3(text.encode())
        pack = self._packs[value[0] << 8 | value[1]]
        at = pack.find(value)
        return at >= 0 and (not at & 7 or _find(pack, value) >= 0)

    def add_text(self, text: str) -> bool:
        """Add the digest of `text`; return False if it was there already.

        `add_new(digest(text))` in one call: every event and every billed entry comes
        through here, so the look-up and the insertion are written out in place.
        """
        value = _xxh3(text.encode())
        packs = self._packs
        index = value[0] << 8 | value[1]
        pack = packs[index]
        at = pack.find(value)
        if at >= 0 and (not at & 7 or _find(pack, value) >= 0):
            return False
        packs[index] = pack + value
        self._size += 1
        return True

    def add_new(self, value: bytes) -> bool:
        """Add `value` (8 bytes); return False if it was there already."""
        index = value[0] << 8 | value[1]
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
        index = value[0] << 8 | value[1]
        pack = self._packs[index]
        at = _find(pack, value)
        if at >= 0:
            self._packs[index] = pack[:at] + pack[at + 8:]
            self._size -= 1

    def __iter__(self) -> Iterator[bytes]:
        for pack in self._packs:
            for at in range(0, len(pack), 8):
                yield pack[at:at + 8]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (DigestSet, set, frozenset)):
            return len(self) == len(other) and all(value in self for value in other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"DigestSet(<{self._size} digests>)"
