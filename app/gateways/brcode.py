"""PIX BR Code (EMV QRCPS merchant-presented) copia-e-cola payloads: build, parse, CRC."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["BrCode", "InvalidBrCode", "build", "crc16_ccitt_false", "parse"]

GUI = "br.gov.bcb.pix"
NO_TXID = "***"
NAME_MAX = 25
CITY_MAX = 15
KEY_MAX = 77
URL_MAX = 77
FIELD_MAX = 99
MAX_AMOUNT_CENTS = 999_999_999_999  # "9999999999.99": field 54 holds at most 13 characters
CRC_HEADER = "6304"

_TXID = re.compile(r"[A-Za-z0-9]{1,25}")
_AMOUNT = re.compile(r"(0|[1-9][0-9]*)\.([0-9]{2})")
_MCC = re.compile(r"[0-9]{4}")
_FIXED = {"00": ("01",), "01": ("11", "12"), "53": ("986",), "58": ("BR",)}
_MANDATORY = {
    "00": "payload format indicator",
    "26": "merchant account information",
    "52": "merchant category code",
    "53": "transaction currency",
    "58": "country code",
    "59": "merchant name",
    "60": "merchant city",
    "62": "additional data field template",
    "63": "CRC16",
}


class InvalidBrCode(ValueError):
    """A BR Code, or a payload claiming to be one, breaks the PIX standard."""


@dataclass(frozen=True, slots=True)
class BrCode:
    """What a PIX BR Code carries: a static pix key or a dynamic location, and who gets paid."""

    pix_key: str | None
    location_url: str | None
    merchant_name: str
    merchant_city: str
    amount_cents: int | None
    txid: str | None
    description: str | None = None
    single_use: bool = False


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def build(code: BrCode) -> str:
    """Render a BR Code as its copia-e-cola payload, CRC field included."""
    _check_code(code)
    return _seal("".join(_tlv(tag, value) for tag, value in _fields(code)))


def parse(payload: str) -> BrCode:
    """Validate a copia-e-cola payload and return the BR Code it carries."""
    if not _printable(payload):
        raise InvalidBrCode("payload must be printable ASCII")
    _check_crc(payload)
    fields = _decode(payload, "payload")
    _check_frame(fields)
    _check_fixed(fields)
    code = _to_code(fields)
    _check_code(code)
    return code


def _fields(code: BrCode) -> Iterator[tuple[str, str]]:
    """Top-level fields in the order the manual lists them, CRC excluded."""
    yield "00", "01"
    if code.single_use:
        yield "01", "12"
    yield "26", _account(code)
    yield "52", "0000"
    yield "53", "986"
    if code.amount_cents is not None:
        yield "54", _amount_text(code.amount_cents)
    yield "58", "BR"
    yield "59", _label(code.merchant_name, NAME_MAX, "merchant_name")
    yield "60", _label(code.merchant_city, CITY_MAX, "merchant_city")
    yield "62", _tlv("05", code.txid or NO_TXID)


def _account(code: BrCode) -> str:
    """Merchant account information template (field 26)."""
    parts = [_tlv("00", GUI)]
    if code.pix_key is not None:
        parts.append(_tlv("01", code.pix_key))
    if code.location_url is not None:
        parts.append(_tlv("25", code.location_url))
    if code.description is not None:
        parts.append(_tlv("02", _ascii(code.description, "description")))
    return "".join(parts)


def _tlv(tag: str, value: str) -> str:
    """One field: id, two-digit length, value."""
    if not 0 < len(value) <= FIELD_MAX:
        raise InvalidBrCode(f"field {tag}: {len(value)} characters, must be 1..{FIELD_MAX}")
    return f"{tag}{len(value):02d}{value}"


def _seal(body: str) -> str:
    """Append the CRC field, computed over the body plus its own '6304' header."""
    head = body + CRC_HEADER
    return f"{head}{crc16_ccitt_false(head.encode('ascii')):04X}"


def _amount_text(cents: int) -> str:
    """Integer centavos as the decimal string field 54 wants, e.g. 1990 -> '19.90'."""
    return f"{cents // 100}.{cents % 100:02d}"


def _label(text: str, limit: int, what: str) -> str:
    """A name or city: accents stripped to ASCII, trimmed, truncated, non-empty."""
    cleaned = _ascii(text, what).strip()[:limit].rstrip()
    if not cleaned:
        raise InvalidBrCode(f"{what} is empty")
    return cleaned


def _ascii(text: str, what: str) -> str:
    """Text with accents dropped (NFKD minus combining marks); reject what stays non-ASCII."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    if not _printable(stripped):
        raise InvalidBrCode(f"{what} has characters with no printable ASCII form: {text!r}")
    return stripped


def _printable(text: str) -> bool:
    """Whether text is printable ASCII only."""
    return text.isascii() and text.isprintable()


def _check_code(code: BrCode) -> None:
    """Rules a BrCode must follow before it is built, or after it is parsed."""
    if (code.pix_key is None) == (code.location_url is None):
        raise InvalidBrCode("exactly one of pix_key (static) or location_url (dynamic) is required")
    if code.pix_key is not None:
        _check_text(code.pix_key, KEY_MAX, "pix_key")
    if code.location_url is not None:
        _check_dynamic(code, code.location_url)
    _check_amount(code.amount_cents)
    if code.txid is not None and not _TXID.fullmatch(code.txid):
        raise InvalidBrCode(f"txid must be 1-25 letters or digits (A-Z, a-z, 0-9): {code.txid!r}")


def _check_dynamic(code: BrCode, url: str) -> None:
    """A dynamic code has a scheme-less location and no txid or description of its own."""
    _check_text(url, URL_MAX, "location_url")
    if "://" in url:
        raise InvalidBrCode(f"location_url must omit the scheme (no https://): {url!r}")
    if code.txid is not None:
        raise InvalidBrCode("a dynamic code has no txid: its reference label is *** by the manual")
    if code.description is not None:
        raise InvalidBrCode("description is only allowed in static codes (with pix_key)")


def _check_text(value: str, limit: int, what: str) -> None:
    """A free-text value: 1..limit printable ASCII characters."""
    if not (0 < len(value) <= limit and _printable(value)):
        raise InvalidBrCode(f"{what} must be 1-{limit} printable ASCII characters: {value!r}")


def _check_amount(cents: int | None) -> None:
    """An amount, when present, is a positive integer of centavos that fits field 54."""
    if cents is None:
        return
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise InvalidBrCode(f"amount_cents must be an int of centavos: {cents!r}")
    if not 0 < cents <= MAX_AMOUNT_CENTS:
        raise InvalidBrCode(f"amount_cents must be 1..{MAX_AMOUNT_CENTS}: {cents}")


def _check_crc(payload: str) -> None:
    """The payload ends with field 63 whose value is the CRC of everything before it."""
    if len(payload) < 8 or payload[-8:-4] != CRC_HEADER:
        raise InvalidBrCode("payload must end with the CRC field 6304XXXX")
    expected = f"{crc16_ccitt_false(payload[:-4].encode('ascii')):04X}"
    if payload[-4:] != expected:
        raise InvalidBrCode(f"CRC mismatch: payload says {payload[-4:]!r}, computed {expected!r}")


def _decode(text: str, where: str) -> dict[str, str]:
    """Split a run of TLV fields into an ordered id -> value map."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(text):
        tag, value, position = _next_field(text, position, where)
        if tag in fields:
            raise InvalidBrCode(f"{where}: field {tag} appears twice")
        fields[tag] = value
    return fields


def _next_field(text: str, position: int, where: str) -> tuple[str, str, int]:
    """The field starting at position, and the position just past it."""
    header = text[position : position + 4]
    if len(header) < 4 or not header.isdigit():
        raise InvalidBrCode(f"{where}: malformed field header {header!r} at offset {position}")
    tag, size, start = header[:2], int(header[2:]), position + 4
    if size == 0 or start + size > len(text):
        left = len(text) - start
        raise InvalidBrCode(f"{where}: field {tag} declares {size} characters, {left} remain")
    return tag, text[start : start + size], start + size


def _check_frame(fields: dict[str, str]) -> None:
    """Field 00 comes first, 63 last, and every mandatory field is present."""
    for tag, name in _MANDATORY.items():
        if tag not in fields:
            raise InvalidBrCode(f"missing mandatory field {tag} ({name})")
    tags = list(fields)
    if tags[0] != "00" or tags[-1] != "63":
        raise InvalidBrCode("field 00 must come first and field 63 last")


def _check_fixed(fields: dict[str, str]) -> None:
    """Fields with fixed values hold one of them; the MCC is four digits."""
    for tag, allowed in _FIXED.items():
        if tag in fields and fields[tag] not in allowed:
            expected = " or ".join(repr(value) for value in allowed)
            raise InvalidBrCode(f"field {tag} is {fields[tag]!r}, expected {expected}")
    if not _MCC.fullmatch(fields["52"]):
        raise InvalidBrCode(f"field 52 (merchant category code) is {fields['52']!r}")


def _to_code(fields: dict[str, str]) -> BrCode:
    """The BrCode a structurally valid field map describes."""
    account = _account_fields(fields["26"])
    return BrCode(
        pix_key=account.get("01"),
        location_url=account.get("25"),
        merchant_name=_bounded(fields["59"], NAME_MAX, "merchant name (59)"),
        merchant_city=_bounded(fields["60"], CITY_MAX, "merchant city (60)"),
        amount_cents=_parse_amount(fields.get("54")),
        txid=_reference(fields["62"], dynamic="25" in account),
        description=account.get("02"),
        single_use=fields.get("01") == "12",
    )


def _account_fields(value: str) -> dict[str, str]:
    """Sub-fields of field 26, whose GUI must be br.gov.bcb.pix (any letter case)."""
    account = _decode(value, "field 26")
    gui = account.get("00")
    if gui is None or gui.lower() != GUI:
        raise InvalidBrCode(f"field 26: GUI is {gui!r}, expected {GUI!r}")
    return account


def _bounded(value: str, limit: int, what: str) -> str:
    """A parsed name or city, at most limit characters."""
    if len(value) > limit:
        raise InvalidBrCode(f"{what} has {len(value)} characters, at most {limit}")
    return value


def _parse_amount(text: str | None) -> int | None:
    """Field 54 as integer centavos; it must read like '19.90'."""
    if text is None:
        return None
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise InvalidBrCode(f"field 54 (amount) must be digits, a dot and two decimals: {text!r}")
    return int(match[1]) * 100 + int(match[2])


def _reference(value: str, *, dynamic: bool) -> str | None:
    """The txid in field 62 sub-field 05; '***' means none, and dynamic codes ignore it."""
    label = _decode(value, "field 62").get("05")
    if label is None:
        raise InvalidBrCode("field 62: missing reference label (sub-field 05)")
    return None if dynamic or label == NO_TXID else label
