"""A Bloom filter over the (namespace, key) pairs in the database.

A negative answer is certain, so a put of a key that is neither hot nor possibly stored needs
no read-through: the hot path stays free of awaits for new keys.
"""

from __future__ import annotations


class KeyFilter:
    """About 1% false positives while `count <= capacity`; rebuild larger past that."""

    __slots__ = ("_bits", "_mask", "capacity", "count")

    def __init__(self, capacity: int) -> None:
        bits = 1 << max(16, (max(capacity, 1) * 10 - 1).bit_length())
        self._bits = bytearray(bits >> 3)
        self._mask = bits - 1
        self.capacity = bits // 10
        self.count = 0

    def add(self, item: tuple[str, str]) -> bool:
        """Add `item`; True when it may have been present already (all its bits were set)."""
        h = hash(item)
        step = (h >> 32) | 1
        bits, mask = self._bits, self._mask
        p0 = h & mask
        p1 = (h + step) & mask
        p2 = (h + 2 * step) & mask
        p3 = (h + 3 * step) & mask
        b0, b1, b2, b3 = 1 << (p0 & 7), 1 << (p1 & 7), 1 << (p2 & 7), 1 << (p3 & 7)
        seen = bool(bits[p0 >> 3] & b0 and bits[p1 >> 3] & b1 and bits[p2 >> 3] & b2 and bits[p3 >> 3] & b3)
        if not seen:
            bits[p0 >> 3] |= b0
            bits[p1 >> 3] |= b1
            bits[p2 >> 3] |= b2
            bits[p3 >> 3] |= b3
            self.count += 1
        return seen

    def __contains__(self, item: tuple[str, str]) -> bool:
        h = hash(item)
        step = (h >> 32) | 1
        bits, mask = self._bits, self._mask
        p = h & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        p = (h + step) & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        p = (h + 2 * step) & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        p = (h + 3 * step) & mask
        return bool(bits[p >> 3] & (1 << (p & 7)))

    @property
    def nbytes(self) -> int:
        return len(self._bits)
