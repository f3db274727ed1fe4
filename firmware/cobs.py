"""Consistent Overhead Byte Stuffing: the encoded bytes never contain 0x00,
so 0x00 can delimit frames on a byte stream."""


def encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    full = False  # the last thing emitted was a full 254-byte block
    for byte in data:
        full = False
        if byte == 0:
            out.append(len(block) + 1)
            out.extend(block)
            block = bytearray()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out.extend(block)
                block = bytearray()
                full = True
    if not full:
        out.append(len(block) + 1)
        out.extend(block)
    return bytes(out)


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
        for j in range(i + 1, end):
            if data[j] == 0:
                return None
            out.append(data[j])
        i = end
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)
