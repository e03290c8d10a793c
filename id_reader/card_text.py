"""The 256-byte text block of an ID card read: fields, code tables, the GB 11643 check digit.

The block is UTF-16LE, each field space padded to a fixed width. Three card families share
the readers and are told apart by the card-type letter at byte 248: resident cards leave
it blank, Hong Kong/Macao/Taiwan residence permits (港澳台居民居住证) put ``J`` and use the
resident layout with a pass number, foreign permanent resident cards (外国人永久居留身份证)
put ``I`` (2017 edition, its own layout) or ``Y`` (2023 edition). Pure codec: no I/O.

Errors never quote a field's value: a message about an ID number must not carry it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from hallbus import identity
from hallbus.messages import CardKind, Gender
from id_reader.sam_protocol import TEXT_SIZE

TEXT_BLOCK_SIZE = TEXT_SIZE
LONG_TERM = "长期"  # a validity without end date
_TYPE_OFFSET = 248

# (name, byte width) in block order.
RESIDENT_LAYOUT: tuple[tuple[str, int], ...] = (
    ("name", 30),
    ("gender", 2),
    ("nation", 4),
    ("birth_date", 16),
    ("address", 70),
    ("id_number", 36),
    ("issuer", 30),
    ("valid_from", 16),
    ("valid_until", 16),
    ("pass_number", 18),  # residence permits only; blank on resident cards
    ("issue_count", 4),  # residence permits only
    ("reserved", 6),
    ("card_type", 2),
    ("reserved_end", 6),
)
FOREIGN_2017_LAYOUT: tuple[tuple[str, int], ...] = (
    ("name_en", 120),
    ("gender", 2),
    ("id_number", 30),
    ("nationality", 6),
    ("name", 30),
    ("valid_from", 16),
    ("valid_until", 16),
    ("birth_date", 16),
    ("card_version", 4),
    ("issuer", 8),  # the code of the accepting authority
    ("card_type", 2),
    ("reserved_end", 6),
)

GENDERS = {"0": Gender.UNKNOWN, "1": Gender.MALE, "2": Gender.FEMALE, "9": Gender.UNSPECIFIED}

# GB 3304 codes of China's nationalities, as printed on the card (without the 族 suffix).
NATIONS: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗",
    "07": "彝", "08": "壮", "09": "布依", "10": "朝鲜", "11": "满", "12": "侗",
    "13": "瑶", "14": "白", "15": "土家", "16": "哈尼", "17": "哈萨克", "18": "傣",
    "19": "黎", "20": "傈僳", "21": "佤", "22": "畲", "23": "高山", "24": "拉祜",
    "25": "水", "26": "东乡", "27": "纳西", "28": "景颇", "29": "柯尔克孜", "30": "土",
    "31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗", "35": "撒拉", "36": "毛南",
    "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米", "41": "塔吉克", "42": "怒",
    "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂", "47": "保安",
    "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春", "53": "赫哲",
    "54": "门巴", "55": "珞巴", "56": "基诺", "97": "其他", "98": "外国血统中国籍人士",
}  # fmt: skip

# GB 11643: weights of the first 17 digits, and the check character for each sum mod 11.
_FOREIGN_2017_NUMBER = re.compile(r"^[A-Z]{3}\d{12}$")
_HMT_REGIONS = ("81", "82", "83")  # Hong Kong, Macao, Taiwan address codes of permits


class CardDataError(ValueError):
    """The text block cannot be a card's; the message names the field, never its value."""


class UnsupportedCard(CardDataError):
    """A card family this parser knows by its type letter but does not decode."""


# The card's number is checked like the booking portal's: one rule, in hallbus.identity.
valid_id_number = identity.valid_id_number


def _digits(text: str) -> bool:
    # str.isdigit() also accepts characters such as "³" that int() refuses.
    return text.isascii() and text.isdigit()


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an ID number."""
    try:
        return identity.check_digit(first17)
    except ValueError as err:
        raise CardDataError(str(err)) from err


def birth_date_of(number: str) -> date:
    """The birth date coded in digits 7-14 of an ID number."""
    return _date("the ID number's birth date", number[6:14])


def gender_of(number: str) -> Gender:
    """The sex coded by the parity of the 17th digit of an ID number."""
    return Gender.MALE if int(number[16]) % 2 else Gender.FEMALE


@dataclass(frozen=True, slots=True)
class Holder:
    """Who tapped: all a card event is made from. Its ``repr`` hides everything personal."""

    kind: CardKind
    id_number: str = field(repr=False)
    name: str = field(repr=False)
    gender: Gender
    birth_date: date = field(repr=False)


def holder_from_number(number: str) -> Holder:
    """What a bare ID number tells (a keyboard-wedge reader types nothing else)."""
    if not valid_id_number(number):
        raise CardDataError("the typed number fails the GB 11643 format or check digit")
    return Holder(CardKind.NUMBER_ONLY, number, "", gender_of(number), birth_date_of(number))


@dataclass(frozen=True, slots=True)
class CardText:
    """What a card says. Its ``repr`` hides the number, name and address."""

    kind: CardKind
    id_number: str = field(repr=False)
    name: str = field(repr=False)
    gender: Gender
    birth_date: date = field(repr=False)
    issuer: str
    valid_from: date
    valid_until: date | None  # None: valid long-term (长期)
    nation: str | None = None  # resident cards
    address: str = field(default="", repr=False)
    name_en: str = field(default="", repr=False)  # foreign cards
    nationality: str | None = None  # foreign cards: ISO 3166 alpha-3
    pass_number: str = field(default="", repr=False)  # residence permits
    issue_count: int | None = None  # residence permits

    @property
    def holder(self) -> Holder:
        """The holder as a card event needs them (a Chinese name where the card has one)."""
        return Holder(
            self.kind, self.id_number, self.name or self.name_en, self.gender, self.birth_date
        )


def _fields(block: bytes, layout: tuple[tuple[str, int], ...]) -> dict[str, str]:
    values, offset = {}, 0
    for name, width in layout:
        raw = block[offset : offset + width]
        offset += width
        try:
            values[name] = raw.decode("utf-16-le").strip(" \x00")
        except UnicodeDecodeError as err:
            raise CardDataError(f"{name} is not UTF-16LE text") from err
    return values


def _date(name: str, text: str) -> date:
    if len(text) != 8 or not _digits(text):
        raise CardDataError(f"{name} is not a YYYYMMDD date")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as err:
        raise CardDataError(f"{name} is not a calendar date") from err


def _validity(values: dict[str, str]) -> tuple[date, date | None]:
    valid_from = _date("valid_from", values["valid_from"])
    until = values["valid_until"]
    valid_until = None if until == LONG_TERM else _date("valid_until", until)
    if valid_until is not None and valid_until < valid_from:
        raise CardDataError("valid_until is before valid_from")
    return valid_from, valid_until


def _gender(code: str) -> Gender:
    gender = GENDERS.get(code)
    if gender is None:
        raise CardDataError("gender is not a GB/T 2261.1 code")
    return gender


def parse_card_text(block: bytes) -> CardText:
    """The fields of a card's text block; raises ``CardDataError`` if it cannot be one."""
    if len(block) != TEXT_BLOCK_SIZE:
        raise CardDataError(f"a text block has {TEXT_BLOCK_SIZE} bytes, not {len(block)}")
    try:
        card_type = block[_TYPE_OFFSET : _TYPE_OFFSET + 2].decode("utf-16-le").strip(" \x00")
    except UnicodeDecodeError as err:
        raise CardDataError("card_type is not UTF-16LE text") from err
    if card_type == "I":
        return _parse_foreign_2017(block)
    if card_type == "Y":
        raise UnsupportedCard(
            "2023 edition foreign permanent resident card (type Y): layout not decoded yet"
        )
    if card_type not in ("", "J"):
        raise UnsupportedCard(f"unknown card type letter {card_type[:2]!r}")
    return _parse_resident(block, permit=card_type == "J")


def _parse_resident(block: bytes, *, permit: bool) -> CardText:
    values = _fields(block, RESIDENT_LAYOUT)
    number = values["id_number"]
    if not valid_id_number(number):
        raise CardDataError("id_number fails the GB 11643 format or check digit")
    birth = _date("birth_date", values["birth_date"])
    if birth_date_of(number) != birth:
        raise CardDataError("birth_date differs from the date coded in id_number")
    if not values["name"]:
        raise CardDataError("name is empty")
    if permit and not number.startswith(_HMT_REGIONS):
        raise CardDataError("a residence permit's id_number has no 81/82/83 region code")
    valid_from, valid_until = _validity(values)
    nation = None
    if not permit:
        nation = NATIONS.get(values["nation"])
        if nation is None:
            raise CardDataError("nation is not a GB 3304 code")
    issue_count = None
    if permit:
        count = values["issue_count"]
        issue_count = int(count) if _digits(count) else None
    return CardText(
        kind=CardKind.HMT_RESIDENCE_PERMIT if permit else CardKind.RESIDENT,
        id_number=number,
        name=values["name"],
        gender=_gender(values["gender"]),
        birth_date=birth,
        issuer=values["issuer"],
        valid_from=valid_from,
        valid_until=valid_until,
        nation=nation,
        address=values["address"],
        pass_number=values["pass_number"] if permit else "",
        issue_count=issue_count,
    )


def _parse_foreign_2017(block: bytes) -> CardText:
    values = _fields(block, FOREIGN_2017_LAYOUT)
    number = values["id_number"]
    if not _FOREIGN_2017_NUMBER.match(number):
        raise CardDataError("id_number is not a permit number (3 letters, 12 digits)")
    if not values["name_en"] and not values["name"]:
        raise CardDataError("the card has no name")
    nationality = values["nationality"]
    if not re.fullmatch(r"[A-Z]{3}", nationality):
        raise CardDataError("nationality is not a 3-letter code")
    valid_from, valid_until = _validity(values)
    return CardText(
        kind=CardKind.FOREIGN_PERMANENT,
        id_number=number,
        name=values["name"],
        name_en=values["name_en"],
        gender=_gender(values["gender"]),
        birth_date=_date("birth_date", values["birth_date"]),
        issuer=values["issuer"],
        valid_from=valid_from,
        valid_until=valid_until,
        nationality=nationality,
    )


# --- writing blocks: what the emulator's cards hold ------------------------------------
def _pack(values: dict[str, str], layout: tuple[tuple[str, int], ...]) -> bytes:
    out = bytearray()
    for name, width in layout:
        raw = values.get(name, "").encode("utf-16-le")
        if len(raw) > width:
            raise CardDataError(f"{name} does not fit its {width} bytes")
        out += raw + " ".encode("utf-16-le") * ((width - len(raw)) // 2)
    return bytes(out)


def _ymd(day: date | None) -> str:
    return LONG_TERM if day is None else day.strftime("%Y%m%d")


def encode_card_text(card: CardText) -> bytes:
    """The text block a card of these fields holds."""
    gender = next(code for code, g in GENDERS.items() if g is card.gender)
    common = {
        "gender": gender,
        "id_number": card.id_number,
        "name": card.name,
        "birth_date": card.birth_date.strftime("%Y%m%d"),
        "issuer": card.issuer,
        "valid_from": _ymd(card.valid_from),
        "valid_until": _ymd(card.valid_until),
    }
    if card.kind is CardKind.FOREIGN_PERMANENT:
        foreign = {"name_en": card.name_en, "nationality": card.nationality or "", "card_type": "I"}
        return _pack(common | foreign, FOREIGN_2017_LAYOUT)
    nation = next((code for code, n in NATIONS.items() if n == card.nation), "")
    resident = {"nation": nation, "address": card.address, "pass_number": card.pass_number}
    if card.kind is CardKind.HMT_RESIDENCE_PERMIT:
        resident |= {"card_type": "J", "issue_count": f"{card.issue_count or 1:02d}"}
    return _pack(common | resident, RESIDENT_LAYOUT)
