"""Consistent Overhead Byte Stuffing (agent side; the pad has its own copy in firmware/)."""


def encode(data: bytes) -> bytes:
    out = bytearray()
    start = 0
    while True:
        zero = data.find(b"\x00", start, start + 254)
        if zero < 0:
            chunk = data[start : start + 254]
            if len(chunk) == 254 and start + 254 < len(data):
                out.append(255)
                out += chunk
                start += 254
                continue
            out.append(len(chunk) + 1)
            out += chunk
            return bytes(out)
        out.append(zero - start + 1)
        out += data[start:zero]
        start = zero + 1


def decode(data: bytes) -> bytes | None:
    """The original bytes, or None when `data` is not valid COBS."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        end = i + code
        if code == 0 or end > n:
            return None
        block = data[i + 1 : end]
        if 0 in block:
            return None
        out += block
        i = end
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)
