"""The text block: every card family, code tables, the check digit, and refusals."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallbus.messages import CardKind, Gender
from id_reader.card_text import (
    NATIONS,
    RESIDENT_LAYOUT,
    TEXT_BLOCK_SIZE,
    CardDataError,
    CardText,
    UnsupportedCard,
    birth_date_of,
    check_digit,
    encode_card_text,
    gender_of,
    parse_card_text,
    valid_id_number,
)
from simulator.id_cards import (
    ELDERLY_RESIDENT,
    FOREIGN_PERMANENT,
    HMT_PERMIT,
    SAMPLE_CARDS,
    YOUNG_RESIDENT,
    id_number,
)


def test_layouts_fill_the_block_exactly() -> None:
    assert sum(width for _, width in RESIDENT_LAYOUT) == TEXT_BLOCK_SIZE


def test_the_standards_own_example_number() -> None:
    # GB 11643-1999 works through 11010519491231002X in its annex.
    assert check_digit("11010519491231002") == "X"
    assert valid_id_number("11010519491231002X")
    assert not valid_id_number("110105194912310021")
    assert not valid_id_number("11010519491231002x")  # the card writes X upper-case
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)
    assert gender_of("11010519491231002X") is Gender.FEMALE


def test_a_resident_block_as_documented() -> None:
    # Field by field as reader documentation shows it: name, gender "1", nation "01", ...
    block = encode_card_text(ELDERLY_RESIDENT)
    assert block[:6] == "张三明".encode("utf-16-le")
    assert block[6:30] == " ".encode("utf-16-le") * 12
    assert block[30:32] == b"1\x00"
    assert block[32:36] == "01".encode("utf-16-le")
    assert block[36:52] == "19500307".encode("utf-16-le")
    assert block[122:158] == ELDERLY_RESIDENT.id_number.encode("utf-16-le")
    assert block[204:208] == "长期".encode("utf-16-le")
    card = parse_card_text(block)
    assert card == ELDERLY_RESIDENT
    assert card.nation == "汉" and card.valid_until is None


@pytest.mark.parametrize("card", SAMPLE_CARDS, ids=lambda c: c.kind.value)
def test_every_family_round_trips(card: CardText) -> None:
    assert parse_card_text(encode_card_text(card)) == card


def test_residence_permit_is_reported_as_such() -> None:
    card = parse_card_text(encode_card_text(HMT_PERMIT))
    assert card.kind is CardKind.HMT_RESIDENCE_PERMIT
    assert card.nation is None and card.issue_count == 1 and card.pass_number == "H12345678"


def test_foreign_card_is_read_in_its_own_layout_not_misparsed() -> None:
    block = encode_card_text(FOREIGN_PERMANENT)
    assert block[248:250] == b"I\x00"
    assert block[:20] == "SMITH JOHN".encode("utf-16-le")
    card = parse_card_text(block)
    assert card.kind is CardKind.FOREIGN_PERMANENT
    assert (card.name_en, card.nationality, card.birth_date) == (
        "SMITH JOHN", "USA", date(1958, 11, 2),
    )  # fmt: skip


def test_2023_foreign_card_is_named_not_guessed() -> None:
    block = bytearray(encode_card_text(FOREIGN_PERMANENT))
    block[248:250] = b"Y\x00"
    with pytest.raises(UnsupportedCard, match="2023 edition"):
        parse_card_text(bytes(block))


@pytest.mark.parametrize("code", sorted(NATIONS))
def test_every_nation_code(code: str) -> None:
    block = bytearray(encode_card_text(YOUNG_RESIDENT))
    block[32:36] = code.encode("utf-16-le")
    assert parse_card_text(bytes(block)).nation == NATIONS[code]


@pytest.mark.parametrize(
    ("code", "gender"), [("0", Gender.UNKNOWN), ("1", Gender.MALE), ("2", Gender.FEMALE),
                         ("9", Gender.UNSPECIFIED)]
)  # fmt: skip
def test_every_gender_code(code: str, gender: Gender) -> None:
    block = bytearray(encode_card_text(YOUNG_RESIDENT))
    block[30:32] = code.encode("utf-16-le")
    assert parse_card_text(bytes(block)).gender is gender


def _with(field_offset: int, text: str) -> bytes:
    block = bytearray(encode_card_text(YOUNG_RESIDENT))
    raw = text.encode("utf-16-le")
    block[field_offset : field_offset + len(raw)] = raw
    return bytes(block)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (encode_card_text(YOUNG_RESIDENT)[:200], "256 bytes"),
        (_with(156, "0"), "check digit"),  # last character of the number changed
        (_with(36, "19910520"), "differs from the date coded"),
        (_with(36, "19901340"), "not a calendar date"),
        (_with(32, "77"), "GB 3304"),
        (_with(30, "5"), "GB/T 2261.1"),
        (_with(204, "20100115"), "before valid_from"),
        (" ".encode("utf-16-le") * 15 + encode_card_text(YOUNG_RESIDENT)[30:], "name is empty"),
    ],
)
def test_refusals_name_the_field_and_never_the_number(block: bytes, message: str) -> None:
    with pytest.raises(CardDataError, match=message) as refused:
        parse_card_text(block)
    assert YOUNG_RESIDENT.id_number[:14] not in str(refused.value)
    assert YOUNG_RESIDENT.id_number not in repr(refused.value)


def test_bad_utf16_is_refused() -> None:
    block = bytearray(encode_card_text(YOUNG_RESIDENT))
    block[0:2] = b"\x00\xd8"  # a lone high surrogate
    with pytest.raises(CardDataError, match="name is not UTF-16LE"):
        parse_card_text(bytes(block))


def test_permit_without_hmt_region_is_refused() -> None:
    fake = replace(HMT_PERMIT, id_number=id_number("11000019850101001"))
    with pytest.raises(CardDataError, match="81/82/83"):
        parse_card_text(encode_card_text(fake))


def test_repr_hides_who_the_card_belongs_to() -> None:
    shown = repr(ELDERLY_RESIDENT)
    for secret in (ELDERLY_RESIDENT.id_number, "张三明", "复兴门", "1950"):
        assert secret not in shown


@given(st.binary(min_size=TEXT_BLOCK_SIZE, max_size=TEXT_BLOCK_SIZE))
def test_fuzz_parser_raises_only_card_data_errors(block: bytes) -> None:
    try:
        card = parse_card_text(block)
    except CardDataError:
        return
    assert parse_card_text(encode_card_text(card)) == card


@given(st.integers(0, 10**17 - 1))
def test_check_digit_catches_every_single_digit_change(first: int) -> None:
    number = id_number(f"{first:017d}")
    assert valid_id_number(number)
    for position in range(17):
        digit = int(number[position])
        changed = number[:position] + str((digit + 1) % 10) + number[position + 1 :]
        assert not valid_id_number(changed)


# The numeric fields of a resident card: (offset, characters). Random bytes almost never
# spell a Unicode digit such as "³", which str.isdigit() accepts and int() refuses.
NUMERIC_FIELDS = [(36, 8), (122, 18), (188, 8), (204, 8)]


@pytest.mark.parametrize("digit", ["³", "١", "٣", "߃", "０"])
@pytest.mark.parametrize(("offset", "width"), NUMERIC_FIELDS)
def test_a_unicode_digit_in_a_numeric_field_is_a_card_data_error(
    offset: int, width: int, digit: str
) -> None:
    with pytest.raises(CardDataError):
        parse_card_text(_with(offset + 2 * (width - 2), digit))


@given(
    st.sampled_from(NUMERIC_FIELDS),
    st.text(st.characters(codec="utf-16", exclude_categories=["Cs"]), min_size=1, max_size=8),
    st.integers(0, 7),
)
def test_fuzz_numeric_fields_raise_only_card_data_errors(
    field: tuple[int, int], text: str, at: int
) -> None:
    offset, width = field
    start = offset + 2 * min(at, width - len(text)) if len(text) <= width else offset
    block = bytearray(encode_card_text(YOUNG_RESIDENT))
    raw = text[:width].encode("utf-16-le")
    block[start : start + len(raw)] = raw
    # Anything but a CardDataError (ValueError from int(), IndexError, ...) fails the test.
    with contextlib.suppress(CardDataError):
        parse_card_text(bytes(block[:TEXT_BLOCK_SIZE]))
