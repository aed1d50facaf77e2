"""The few DER building blocks the local timestamp authority writes and reads.

RFC 3161 responses are fixed, small structures (TimeStampResp, a CMS SignedData with
one SignerInfo, TSTInfo), so they are written here with a dozen encoders rather than
with an ASN.1 library: ``signer.testing`` ships inside the package, and a library
used only by this test server would become a runtime dependency of every user.
Independent strict parsers check the output (``rfc3161-client``'s Rust decoder inside
sigstore-python, and signer's own verifier).
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
OCTET_STRING = 0x04
OBJECT_IDENTIFIER = 0x06
BOOLEAN = 0x01
GENERALIZED_TIME = 0x18


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    """One element: tag, definite length, content."""
    return bytes([tag]) + _length(len(content)) + content


def sequence(*items: bytes) -> bytes:
    """SEQUENCE of already encoded elements, in order."""
    return tlv(SEQUENCE, b"".join(items))


def set_of(*items: bytes) -> bytes:
    """SET OF: DER sorts the encoded elements."""
    return tlv(SET, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    """INTEGER in two's complement, minimal length."""
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def octet_string(data: bytes) -> bytes:
    """OCTET STRING."""
    return tlv(OCTET_STRING, data)


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(OBJECT_IDENTIFIER, bytes(body))


def generalized_time(when: datetime.datetime) -> bytes:
    """GeneralizedTime in UTC, whole seconds (``YYYYMMDDHHMMSSZ``)."""
    utc = when.astimezone(datetime.timezone.utc)
    return tlv(GENERALIZED_TIME, utc.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def explicit(number: int, content: bytes) -> bytes:
    """A constructed context tag ``[number] EXPLICIT`` around encoded content."""
    return tlv(0xA0 | number, content)


def implicit_constructed(number: int, encoded: bytes) -> bytes:
    """``[number] IMPLICIT`` for a constructed element: its tag replaced, content kept."""
    element = read(encoded)
    return tlv(0xA0 | number, element.content)


class Element(NamedTuple):
    """One decoded element: its tag, its content and its full encoding."""

    tag: int
    content: bytes
    encoded: bytes


def read(data: bytes, offset: int = 0) -> Element:
    """The element starting at ``offset`` (definite lengths only, as DER has)."""
    try:
        tag = data[offset]
        first = data[offset + 1]
        position = offset + 2
        if first < 0x80:
            size = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4:
                raise ValueError("unsupported DER length")
            size = int.from_bytes(data[position:position + count], "big")
            position += count
    except IndexError:
        raise ValueError("truncated DER") from None
    end = position + size
    if end > len(data):
        raise ValueError("truncated DER")
    return Element(tag, data[position:end], data[offset:end])


def children(content: bytes) -> list[Element]:
    """The elements packed one after another in ``content``."""
    items: list[Element] = []
    offset = 0
    while offset < len(content):
        item = read(content, offset)
        items.append(item)
        offset += len(item.encoded)
    return items


def decode_integer(element: Element) -> int:
    """The value of an INTEGER element."""
    if element.tag != INTEGER or not element.content:
        raise ValueError("expected an INTEGER")
    return int.from_bytes(element.content, "big", signed=True)
