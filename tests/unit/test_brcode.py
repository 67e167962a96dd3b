"""PIX BR Code payloads: CRC16, published vectors, round trips, and rejected defects."""

from __future__ import annotations

import binascii
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.gateways.brcode import (
    MAX_AMOUNT_CENTS,
    BrCode,
    InvalidBrCode,
    build,
    crc16_ccitt_false,
    parse,
)

# Section 2 of the BCB "Manual de Padrões para Iniciação do Pix": CRCs recomputed below.
BCB_STATIC = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
BCB_STATIC_CODE = BrCode(
    pix_key="123e4567-e12b-12d1-a456-426655440000",
    location_url=None,
    merchant_name="Fulano de Tal",
    merchant_city="BRASILIA",
    amount_cents=None,
    txid=None,
)
BCB_DYNAMIC = (
    "00020101021226700014br.gov.bcb.pix2548pix.example.com/8b3da2f39a4140d1a91abd93113bd441"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***630464E4"
)
BCB_DYNAMIC_CODE = BrCode(
    pix_key=None,
    location_url="pix.example.com/8b3da2f39a4140d1a91abd93113bd441",
    merchant_name="Fulano de Tal",
    merchant_city="BRASILIA",
    amount_cents=None,
    txid=None,
    single_use=True,
)
# A third-party dynamic sample with an upper-case GUI; its CRC checks out too.
UPPER_GUI_DYNAMIC = (
    "00020101021226770014BR.GOV.BCB.PIX2555pix.example.com/qr/93598be0-1bd0-4997-8318-81776a1d8a99"
    "5204000053039865802BR5907EMPRESA6009SAO PAULO62070503***6304EEAB"
)

DYNAMIC = BrCode(
    pix_key=None,
    location_url="qr.psp.example.com/v2/cobv/9d36b84fc70b478fb95c12729b90ca25",
    merchant_name="PixWave Pagamentos",
    merchant_city="SAO PAULO",
    amount_cents=1990,
    txid=None,
    single_use=True,
)
STATIC = BrCode(
    pix_key="+5561912345678",
    location_url=None,
    merchant_name="Loja Exemplo",
    merchant_city="RECIFE",
    amount_cents=5,
    txid="PEDIDO42",
    description="Pedido 42",
)


def _reseal(payload: str) -> str:
    """Replace the CRC with a correct one from the stdlib's CRC-CCITT, so other checks fire."""
    head = payload[:-4]
    return f"{head}{binascii.crc_hqx(head.encode('ascii'), 0xFFFF):04X}"


def _code(**changes: object) -> BrCode:
    return dataclasses.replace(STATIC, **changes)  # type: ignore[arg-type]


def test_crc_standard_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_crc_of_nothing_is_the_init_value() -> None:
    assert crc16_ccitt_false(b"") == 0xFFFF


@pytest.mark.parametrize(
    "data", [b"\x00", b"\xff" * 7, b"A", BCB_STATIC.encode(), bytes(range(256))]
)
def test_crc_agrees_with_the_stdlib_crc_ccitt(data: bytes) -> None:
    assert crc16_ccitt_false(data) == binascii.crc_hqx(data, 0xFFFF)


@pytest.mark.parametrize(
    ("payload", "crc"),
    [(BCB_STATIC, 0x1D3D), (BCB_DYNAMIC, 0x64E4), (UPPER_GUI_DYNAMIC, 0xEEAB)],
)
def test_published_vector_crcs_cover_the_6304_header(payload: str, crc: int) -> None:
    assert payload[-8:-4] == "6304"
    assert crc16_ccitt_false(payload[:-4].encode("ascii")) == crc


@pytest.mark.parametrize(
    ("code", "payload"), [(BCB_STATIC_CODE, BCB_STATIC), (BCB_DYNAMIC_CODE, BCB_DYNAMIC)]
)
def test_build_reproduces_bcb_vectors_byte_for_byte(code: BrCode, payload: str) -> None:
    assert build(code) == payload


@pytest.mark.parametrize(
    ("code", "payload"), [(BCB_STATIC_CODE, BCB_STATIC), (BCB_DYNAMIC_CODE, BCB_DYNAMIC)]
)
def test_parse_reads_bcb_vectors(code: BrCode, payload: str) -> None:
    assert parse(payload) == code


def test_parse_accepts_upper_case_gui() -> None:
    code = parse(UPPER_GUI_DYNAMIC)
    assert code.location_url == "pix.example.com/qr/93598be0-1bd0-4997-8318-81776a1d8a99"
    assert code.merchant_city == "SAO PAULO"
    assert code.single_use


def test_dynamic_code_with_amount_round_trips() -> None:
    payload = build(DYNAMIC)
    assert payload.startswith("000201010212")
    url = DYNAMIC.location_url
    assert url is not None
    assert f"25{len(url)}{url}52040000" in payload
    assert "540519.90" in payload
    assert parse(payload) == DYNAMIC


def test_static_code_with_txid_and_description_round_trips() -> None:
    payload = build(STATIC)
    assert "0209Pedido 42" in payload
    assert "62120508PEDIDO42" in payload
    assert parse(payload) == STATIC


@pytest.mark.parametrize(
    "code",
    [
        _code(amount_cents=None, txid=None, description=None),
        _code(pix_key="fulano@example.com", single_use=True),
        _code(pix_key="12345678909", amount_cents=MAX_AMOUNT_CENTS, txid="A" * 25),
        _code(merchant_name="N" * 25, merchant_city="C" * 15),
    ],
)
def test_normalized_codes_round_trip(code: BrCode) -> None:
    assert parse(build(code)) == code


@given(st.integers(min_value=1, max_value=MAX_AMOUNT_CENTS))
def test_any_amount_round_trips(cents: int) -> None:
    assert parse(build(_code(amount_cents=cents))).amount_cents == cents


@pytest.mark.parametrize(
    ("cents", "field"),
    [(1990, "540519.90"), (5, "54040.05"), (100, "54041.00"), (123456, "54071234.56")],
)
def test_amount_renders_from_integer_centavos(cents: int, field: str) -> None:
    assert f"5303986{field}5802BR" in build(_code(amount_cents=cents))


def test_accents_are_stripped_from_name_and_city() -> None:
    code = parse(build(_code(merchant_name="José Açaí Comércio", merchant_city="São Paulo")))
    assert code.merchant_name == "Jose Acai Comercio"
    assert code.merchant_city == "Sao Paulo"


def test_long_name_and_city_are_truncated() -> None:
    name = "Companhia Brasileira de Distribuição"
    code = parse(build(_code(merchant_name=name, merchant_city="Vitória da Conquista")))
    assert code.merchant_name == "Companhia Brasileira de D"
    assert code.merchant_city == "Vitoria da Conq"


def test_truncation_drops_a_trailing_space() -> None:
    code = parse(build(_code(merchant_name="A" * 24 + " tail")))
    assert code.merchant_name == "A" * 24


def test_corrupted_crc_is_rejected() -> None:
    with pytest.raises(InvalidBrCode, match="CRC mismatch"):
        parse(BCB_STATIC[:-4] + "1D3E")


def test_lower_case_crc_is_rejected() -> None:
    with pytest.raises(InvalidBrCode, match="CRC mismatch"):
        parse(BCB_DYNAMIC[:-4] + "64e4")


def test_changed_amount_without_crc_fix_is_rejected() -> None:
    payload = build(DYNAMIC)
    tampered = payload.replace("540519.90", "540511.90")
    assert tampered != payload
    with pytest.raises(InvalidBrCode, match="CRC mismatch"):
        parse(tampered)


def test_missing_crc_field_is_rejected() -> None:
    with pytest.raises(InvalidBrCode, match="6304"):
        parse(BCB_STATIC[:-8])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("5913Fulano de Tal", "5914Fulano de Tal"),
        ("5913Fulano de Tal", "5912Fulano de Tal"),
        ("6008BRASILIA", "6009BRASILIA"),
        ("62070503***", "62080503***"),
        ("0136123e4567", "0137123e4567"),
    ],
)
def test_wrong_length_is_rejected(old: str, new: str) -> None:
    with pytest.raises(InvalidBrCode, match="field"):
        parse(_reseal(BCB_STATIC.replace(old, new)))


@pytest.mark.parametrize(
    ("removed", "message"),
    [
        ("5913Fulano de Tal", "missing mandatory field 59"),
        ("6008BRASILIA", "missing mandatory field 60"),
        ("5303986", "missing mandatory field 53"),
        ("5802BR", "missing mandatory field 58"),
        ("62070503***", "missing mandatory field 62"),
    ],
)
def test_missing_mandatory_field_is_rejected(removed: str, message: str) -> None:
    with pytest.raises(InvalidBrCode, match=message):
        parse(_reseal(BCB_STATIC.replace(removed, "")))


@pytest.mark.parametrize("gui", ["br.gov.bcb.pax", "br.gov.bcb.px1", "com.example.ok"])
def test_wrong_gui_is_rejected(gui: str) -> None:
    with pytest.raises(InvalidBrCode, match="GUI"):
        parse(_reseal(BCB_STATIC.replace("br.gov.bcb.pix", gui)))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("5303986", "5303840", "field 53"),
        ("5802BR", "5802US", "field 58"),
        ("000201", "000202", "field 00"),
        ("010212", "010213", "field 01"),
        ("52040000", "5204ABCD", "field 52"),
        ("62070503***", "62070703***", "reference label"),
        ("0014br.gov.bcb.pix", "0314br.gov.bcb.pix", "GUI"),
    ],
)
def test_wrong_fixed_values_are_rejected(old: str, new: str, message: str) -> None:
    payload = BCB_DYNAMIC if old == "010212" else BCB_STATIC
    with pytest.raises(InvalidBrCode, match=message):
        parse(_reseal(payload.replace(old, new)))


@pytest.mark.parametrize("amount", ["19.9", "19", "019.90", "19,90", "-1.00", "1e3.00", "0.00"])
def test_bad_amount_format_is_rejected(amount: str) -> None:
    payload = build(_code(amount_cents=1990)).replace("540519.90", f"54{len(amount):02d}{amount}")
    with pytest.raises(InvalidBrCode, match="amount"):
        parse(_reseal(payload))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "6304"),
        ("garbage", "6304"),
        (BCB_STATIC.replace("Fulano", "Fulanó"), "ASCII"),
        (_reseal(BCB_STATIC.replace("5802BR", "5802BR5802BR")), "twice"),
        (_reseal("610570040" + BCB_STATIC), "first"),
        (_reseal(BCB_STATIC.replace("5913Fulano de Tal", "5926" + "F" * 26)), "merchant name"),
        (_reseal(BCB_STATIC.replace("6008BRASILIA", "6016" + "B" * 16)), "merchant city"),
        (_reseal(BCB_STATIC.replace("5913Fulano de Tal", "5900")), "declares 0"),
    ],
)
def test_malformed_payloads_are_rejected(payload: str, message: str) -> None:
    with pytest.raises(InvalidBrCode, match=message):
        parse(payload)


def test_parse_rejects_both_key_and_location() -> None:
    payload = BCB_STATIC.replace("26580014br.gov.bcb.pix", "26660014br.gov.bcb.pix2504a.br")
    with pytest.raises(InvalidBrCode, match="exactly one"):
        parse(_reseal(payload))


def test_parse_rejects_static_txid_outside_charset() -> None:
    with pytest.raises(InvalidBrCode, match="txid"):
        parse(_reseal(BCB_STATIC.replace("62070503***", "62070503a-b")))


def test_parse_ignores_reference_label_of_dynamic_codes() -> None:
    payload = _reseal(BCB_DYNAMIC.replace("62070503***", "62090505TX123"))
    assert parse(payload).txid is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (_code(location_url="pix.example.com/x"), "exactly one"),
        (_code(pix_key=None), "exactly one"),
        (_code(amount_cents=0), "amount_cents"),
        (_code(amount_cents=-100), "amount_cents"),
        (_code(amount_cents=MAX_AMOUNT_CENTS + 1), "amount_cents"),
        (_code(amount_cents=19.9), "int"),
        (_code(amount_cents=True), "int"),
        (_code(txid="pedido-42"), "txid"),
        (_code(txid="A" * 26), "txid"),
        (_code(txid=""), "txid"),
        (_code(txid="***"), "txid"),
        (_code(pix_key=""), "pix_key"),
        (_code(pix_key="k" * 78), "pix_key"),
        (_code(pix_key="chave com ç"), "pix_key"),
        (_code(merchant_name="   "), "merchant_name"),
        (_code(merchant_name="北京"), "merchant_name"),
        (_code(merchant_city=""), "merchant_city"),
        (_code(description="d" * 60), "field 26"),
        (_code(description=""), "field 02"),
    ],
)
def test_build_rejects_invalid_codes(code: BrCode, message: str) -> None:
    with pytest.raises(InvalidBrCode, match=message):
        build(code)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"location_url": "https://pix.example.com/x"}, "scheme"),
        ({"txid": "TX1"}, "no txid"),
        ({"description": "Pedido"}, "description"),
        ({"location_url": "u" * 78}, "location_url"),
    ],
)
def test_build_rejects_invalid_dynamic_codes(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidBrCode, match=message):
        build(dataclasses.replace(DYNAMIC, **changes))  # type: ignore[arg-type]


def test_description_accents_are_stripped() -> None:
    assert parse(build(_code(description="Café"))).description == "Cafe"


def test_invalid_brcode_is_a_value_error() -> None:
    assert issubclass(InvalidBrCode, ValueError)
