"""A Bloom filter over the (namespace, key) pairs in the database (entries and tombstones).

A negative answer is certain, so a put of a key that is neither hot nor possibly stored needs
no read-through: the hot path stays free of awaits for new keys.

Two probes at 20 bits per key give the same ~1% false positives as four probes at 10 bits, at
half the Python work per add (the add is on the put path of every new key); the two positions
are the low and high halves of the item's 64-bit hash.
"""

from __future__ import annotations

BITS_PER_KEY = 20


class KeyFilter:
    """About 1% false positives while `count <= capacity`; rebuild larger past that."""

    __slots__ = ("_bits", "_mask", "capacity", "count")

    def __init__(self, capacity: int) -> None:
        bits = 1 << max(16, (max(capacity, 1) * BITS_PER_KEY - 1).bit_length())
        self._bits = bytearray(bits >> 3)
        self._mask = bits - 1
        self.capacity = bits // BITS_PER_KEY
        self.count = 0

    def add(self, item: tuple[str, str]) -> bool:
        """Add `item`; True when it may have been present already (both its bits were set)."""
        h = hash(item)
        bits, mask = self._bits, self._mask
        p0 = h & mask
        p1 = (h >> 32) & mask
        i0, b0, i1, b1 = p0 >> 3, 1 << (p0 & 7), p1 >> 3, 1 << (p1 & 7)
        if bits[i0] & b0 and bits[i1] & b1:
            return True
        bits[i0] |= b0
        bits[i1] |= b1
        self.count += 1
        return False

    def __contains__(self, item: tuple[str, str]) -> bool:
        h = hash(item)
        bits, mask = self._bits, self._mask
        p = h & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        p = (h >> 32) & mask
        return bool(bits[p >> 3] & (1 << (p & 7)))

    @property
    def nbytes(self) -> int:
        return len(self._bits)
