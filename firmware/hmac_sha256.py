"""HMAC-SHA256 (RFC 2104). MicroPython has hashlib.sha256 but no hmac module."""

import hashlib

BLOCK = 64


class HmacSha256:
    """Holds the padded key so each tag costs two hashes and no key work."""

    def __init__(self, key: bytes) -> None:
        if len(key) > BLOCK:
            key = hashlib.sha256(key).digest()
        key = key + bytes(BLOCK - len(key))
        self._ipad = bytes([b ^ 0x36 for b in key])
        self._opad = bytes([b ^ 0x5C for b in key])

    def digest(self, msg: bytes) -> bytes:
        inner = hashlib.sha256(self._ipad)
        inner.update(msg)
        outer = hashlib.sha256(self._opad)
        outer.update(inner.digest())
        return outer.digest()


def equal(a: bytes, b: bytes) -> bool:
    """Compare in time independent of where the bytes differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
