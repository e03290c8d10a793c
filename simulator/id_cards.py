"""Made-up cards for the ID reader emulator, the demo and the tests (valid check digits)."""

from __future__ import annotations

from datetime import date

from hallbus.messages import CardKind, Gender
from id_reader.card_text import CardText, check_digit


def id_number(first17: str) -> str:
    """A made-up ID number completed with its GB 11643 check character."""
    return first17 + check_digit(first17)


ELDERLY_RESIDENT = CardText(
    kind=CardKind.RESIDENT,
    id_number=id_number("11010219500307123"),
    name="张三明",
    gender=Gender.MALE,
    birth_date=date(1950, 3, 7),
    issuer="北京市公安局西城分局",
    valid_from=date(2015, 6, 1),
    valid_until=None,
    nation="汉",
    address="北京市西城区复兴门内大街101号",
)
YOUNG_RESIDENT = CardText(
    kind=CardKind.RESIDENT,
    id_number=id_number("65010219900520234"),
    name="阿依古丽·买买提",
    gender=Gender.FEMALE,
    birth_date=date(1990, 5, 20),
    issuer="乌鲁木齐市公安局天山区分局",
    valid_from=date(2020, 1, 15),
    valid_until=date(2040, 1, 15),
    nation="维吾尔",
    address="新疆乌鲁木齐市天山区解放南路88号",
)
HMT_PERMIT = CardText(
    kind=CardKind.HMT_RESIDENCE_PERMIT,
    id_number=id_number("81000019850101001"),
    name="陈大文",
    gender=Gender.MALE,
    birth_date=date(1985, 1, 1),
    issuer="深圳市公安局",
    valid_from=date(2019, 9, 1),
    valid_until=date(2024, 9, 1),
    address="广东省深圳市福田区福华路1号",
    pass_number="H12345678",
    issue_count=1,
)
FOREIGN_PERMANENT = CardText(
    kind=CardKind.FOREIGN_PERMANENT,
    id_number="USA110012345678",
    name="史密斯",
    name_en="SMITH JOHN",
    gender=Gender.MALE,
    birth_date=date(1958, 11, 2),
    issuer="1100",
    valid_from=date(2018, 3, 1),
    valid_until=date(2028, 3, 1),
    nationality="USA",
)
SAMPLE_CARDS = (ELDERLY_RESIDENT, YOUNG_RESIDENT, HMT_PERMIT, FOREIGN_PERMANENT)
