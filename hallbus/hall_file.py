"""Hall configuration: services, windows and devices, loaded from YAML and validated."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hallbus.messages import DeviceKind, IdHash
from hallbus.topics import SCHEDULER_NAME, valid_id

DEMO_HALL_FILE = Path(__file__).with_name("halls") / "demo.yaml"

# Devices paired with one window; the others serve the whole hall.
WINDOW_DEVICES = {DeviceKind.COUNTER, DeviceKind.RATING_PAD, DeviceKind.WINDOW_BOARD}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "workday", "restday"]
WEEKDAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class OpeningPeriod(_Strict):
    """A stretch of opening time on some days.

    ``days`` holds weekday names and/or ``workday`` / ``restday``, which follow the
    official calendar (statutory holidays and make-up working days, 调休).
    """

    # Halls keep summer and winter hours (夏秋季 / 冬春季作息): a period may hold only between
    # two dates of every year, "MM-DD" inclusive; a range may run over the new year.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: list[Day] = Field(min_length=1)
    open: time
    close: time
    season_from: str | None = Field(default=None, alias="from", pattern=r"^\d\d-\d\d$")
    season_to: str | None = Field(default=None, alias="to", pattern=r"^\d\d-\d\d$")

    @model_validator(mode="after")
    def _ordered(self) -> OpeningPeriod:
        if self.close <= self.open:
            raise ValueError(f"closes at {self.close} before it opens at {self.open}")
        if (self.season_from is None) != (self.season_to is None):
            raise ValueError("a season needs both from and to (MM-DD)")
        for value in (self.season_from, self.season_to):
            if value is not None:
                try:
                    date(2000, int(value[:2]), int(value[3:]))  # 2000: 02-29 is a day
                except ValueError as err:
                    raise ValueError(f"{value} is not a month and day") from err
        return self

    def in_season(self, day: date) -> bool:
        """Whether the period holds on ``day`` (always, without a season)."""
        if self.season_from is None or self.season_to is None:
            return True
        key = f"{day:%m-%d}"
        if self.season_from <= self.season_to:
            return self.season_from <= key <= self.season_to
        return key >= self.season_from or key <= self.season_to  # e.g. 10-01 to 04-30


class ServiceConfig(_Strict):
    """A service (业务) citizens take tickets for."""

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$")  # halls with many services use two letters
    names: dict[str, str]
    documents: dict[str, list[str]] = Field(default_factory=dict)  # 一次性告知, per language
    green_channel: bool = False  # 绿色通道: every ticket of it goes ahead of normal ones
    hours: list[OpeningPeriod] | None = None  # None: open whenever the hall runs
    last_ticket_min: int = Field(default=0, ge=0, le=600)  # no tickets this long before closing
    quota: int | None = Field(default=None, ge=1)  # walk-in tickets per day
    expected_service_s: float = Field(default=300.0, gt=0)  # until live statistics exist
    promised_minutes: int | None = Field(default=None, ge=1)  # promised handling time
    # The department responsible (人社局, 税务局, ...): reports and notices go per department.
    department: str | None = Field(default=None, min_length=1, max_length=64)
    alert_wait_min: int | None = Field(default=None, ge=1)  # the hall's threshold if None

    @field_validator("names")
    @classmethod
    def _has_chinese_name(cls, names: dict[str, str]) -> dict[str, str]:
        if not names.get("zh"):
            raise ValueError("every service needs a Chinese name under 'zh'")
        return names


class WindowConfig(_Strict):
    """A counter window (窗口) and the services it handles, each with a tier.

    Tier 1 is the window's own business; higher tiers are called when no ticket of a
    better class or tier waits. ``services: all`` makes a 一窗通办 window (every service,
    tier 1); a plain list gives every listed service tier 1.
    """

    number: int = Field(ge=1, le=999)
    services: dict[str, int] | Literal["all"]

    @field_validator("services", mode="before")
    @classmethod
    def _tiers(cls, value: Any) -> Any:
        if isinstance(value, list):
            return dict.fromkeys(value, 1)
        return value

    @field_validator("services")
    @classmethod
    def _valid_tiers(cls, value: dict[str, int] | Literal["all"]) -> dict[str, int] | str:
        if isinstance(value, dict):
            if not value:
                raise ValueError("a window handles at least one service")
            if any(not 1 <= tier <= 9 for tier in value.values()):
                raise ValueError("tiers run from 1 (own business) to 9")
        return value


class ClerkConfig(_Strict):
    """A clerk who may log in at a window."""

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1)
    id_hash: IdHash | None = None  # keyed hash of their ID number, for logging in by card
    stars: int | None = Field(default=None, ge=1, le=5)  # 星级柜员


class StarRule(_Strict):
    """星级柜员 from a month's ratings: this many stars at this satisfaction or better."""

    stars: int = Field(ge=1, le=5)
    min_satisfaction: float = Field(ge=0, le=1)  # good over rated, not-adopted set aside
    min_rated: int = Field(default=10, ge=1)  # fewer ratings than this earn no stars
    max_bad: int | None = Field(default=None, ge=0)  # and at most this many bad ones


class RateLimitConfig(_Strict):
    """How many requests one device may send: ``per_s`` sustained, ``burst`` at once."""

    per_s: float = Field(gt=0, le=100_000)
    burst: int = Field(ge=1, le=1_000_000)


# A person takes a ticket or presses a key every few seconds; a burst covers a queue of
# retries after a network outage. The portal carries every phone's rating and booking.
DEFAULT_RATE_LIMITS: dict[str, RateLimitConfig] = {
    DeviceKind.KIOSK.value: RateLimitConfig(per_s=5, burst=30),
    DeviceKind.COUNTER.value: RateLimitConfig(per_s=5, burst=30),
    DeviceKind.RATING_PAD.value: RateLimitConfig(per_s=5, burst=30),
    DeviceKind.PORTAL.value: RateLimitConfig(per_s=50, burst=200),
    # Every other kind, and all devices not in the hall file together.
    "other": RateLimitConfig(per_s=2, burst=10),
}


# Benchmarks and load tests drive one device far past any person's pace on purpose.
UNLIMITED_RATE = RateLimitConfig(per_s=100_000, burst=1_000_000)


class DeviceConfig(_Strict):
    """A device known to the scheduler; its id is its MQTT client id."""

    id: str
    kind: DeviceKind
    window: int | None = None
    # A kiosk's or counter's ID reader: it listens to that reader's card events (and the
    # broker's ACL lets it read them).
    id_reader: str | None = None
    # A keypad's or rater's address on its RS-485 line (one counter daemon per line).
    bus_address: int | None = Field(default=None, ge=0, le=255)
    # The model (a profile name) where one daemon runs several models, e.g. LED boards.
    profile: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not valid_id(value):
            raise ValueError(f"device id {value!r} must be letters, digits, '_' or '-'")
        if value == SCHEDULER_NAME:
            raise ValueError(f"device id {value!r} is the scheduler's own broker identity")
        return value


class BookingPolicy(_Strict):
    """Online booking (网上预约): slot length and capacity, limits per person, no-shows."""

    slot_min: int = Field(default=30, ge=5, le=240)
    # Kept for walk-ins: a slot holds (1 - this) of what its planned windows can serve.
    walk_in_share: float = Field(default=0.5, ge=0, lt=1)
    days_ahead: int = Field(default=7, ge=1, le=90)
    per_person_per_day: int = Field(default=1, ge=1, le=10)
    max_open_per_person: int = Field(default=3, ge=1, le=20)
    # This many missed bookings within the window block booking for block_days.
    no_show_limit: int = Field(default=3, ge=1, le=20)
    no_show_window_days: int = Field(default=90, ge=1, le=730)
    block_days: int = Field(default=30, ge=1, le=365)


class HallConfig(_Strict):
    """One service hall."""

    id: str
    names: dict[str, str]
    timezone: str = "Asia/Shanghai"
    rating_timeout_s: float = Field(default=30.0, gt=0)  # the pad's prompt
    later_rating_s: float = Field(default=0.0, ge=0)  # then the ticket's QR page, this long
    recent_calls: int = Field(default=6, ge=1, le=50)
    max_wait_s: float = Field(default=1800.0, gt=0)  # ageing: no ticket waits longer unserved
    max_recalls: int = Field(default=2, ge=0, le=9)  # the next recall marks a no-show
    hotline: str | None = Field(default=None, max_length=32)  # printed on tickets (e.g. 12345)
    elderly_age: int = Field(default=60, ge=0, le=150)
    appointment_late_s: float = Field(default=900.0, ge=0)  # later than this: a normal ticket
    require_open_window: bool = True  # refuse tickets no staffed window can serve
    extra_holidays: list[date] = Field(default_factory=list)  # beyond the official calendar
    extra_workdays: list[date] = Field(default_factory=list)
    # The dashboard raises an alert when a ticket waits, or a window stays paused, this long.
    alert_wait_min: int = Field(default=20, ge=1)
    alert_pause_min: int = Field(default=15, ge=1)
    languages: list[str] = Field(default_factory=lambda: ["zh", "en"], min_length=1)
    notices: dict[str, list[str]] = Field(default_factory=dict)  # the hall board's, per language
    services: list[ServiceConfig] = Field(min_length=1)
    windows: list[WindowConfig] = Field(min_length=1)
    clerks: list[ClerkConfig] = Field(default_factory=list)
    devices: list[DeviceConfig] = Field(default_factory=list)
    # Clerks log in with a PIN besides their code or card (paidui clerks pin sets it); a
    # clerk with a PIN set always needs it. Too many wrong ones lock the clerk out a while.
    require_pin: bool = False
    pin_max_failures: int = Field(default=5, ge=1, le=20)
    pin_lockout_min: int = Field(default=15, ge=1, le=24 * 60)
    # Each department's webhook for same-day notice of a bad rating (paidui export sends).
    department_webhooks: dict[str, str] = Field(default_factory=dict)
    # 星级柜员 follow the ratings: the first rule a clerk's last month meets gives the
    # stars (best first). Without rules the hall file's fixed stars stand.
    star_rules: list[StarRule] = Field(default_factory=list)
    # A clerk with at least this many bad ratings in a period is flagged for follow-up.
    bad_rating_flag: int = Field(default=3, ge=1)
    # The rating ledger's head is signed every this many entries (and at each day's end).
    checkpoint_every: int = Field(default=50, ge=1, le=100_000)
    # When the service day ends: unfinished tickets of the day end with an outcome, clerks
    # are logged out. Default: the last closing of any service that day, or midnight.
    day_end: time | None = None
    # Hall events (calls, ratings) stay this long for consumers that missed some to replay.
    event_retention_h: float = Field(default=48.0, gt=0, le=24 * 90)
    # Per device kind (kiosk, counter, rating_pad, portal, other): overrides the defaults.
    rate_limits: dict[str, RateLimitConfig] = Field(default_factory=dict)
    booking: BookingPolicy = BookingPolicy()

    @field_validator("rate_limits")
    @classmethod
    def _known_kinds(cls, value: dict[str, RateLimitConfig]) -> dict[str, RateLimitConfig]:
        unknown = sorted(set(value) - {*(k.value for k in DeviceKind), "other"})
        if unknown:
            raise ValueError(f"rate_limits for unknown device kinds: {', '.join(unknown)}")
        return value

    def without_flood_limits(self) -> HallConfig:
        """This hall with every device unlimited: for benchmarks and load tests only."""
        return self.model_copy(
            update={"rate_limits": dict.fromkeys(DEFAULT_RATE_LIMITS, UNLIMITED_RATE)}
        )

    def rate_limit(self, kind: DeviceKind | None) -> RateLimitConfig:
        """The flood limit of one device of ``kind`` (None: not in the hall file)."""
        key = kind.value if kind is not None else "other"
        for limits in (self.rate_limits, DEFAULT_RATE_LIMITS):
            if key in limits:
                return limits[key]
        return self.rate_limits.get("other", DEFAULT_RATE_LIMITS["other"])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HallConfig:
        if not valid_id(self.id):
            raise ValueError(f"hall id {self.id!r} must be letters, digits, '_' or '-'")
        codes = [s.code for s in self.services]
        prefixes = [s.prefix for s in self.services]
        if len(set(codes)) != len(codes) or len(set(prefixes)) != len(prefixes):
            raise ValueError("service codes and ticket prefixes must be unique")
        numbers = [w.number for w in self.windows]
        if len(set(numbers)) != len(numbers):
            raise ValueError("window numbers must be unique")
        for window in self.windows:
            if window.services != "all":
                unknown = set(window.services) - set(codes)
                if unknown:
                    raise ValueError(f"window {window.number} handles unknown services {unknown}")
        clerk_codes = [c.code for c in self.clerks]
        if len(set(clerk_codes)) != len(clerk_codes):
            raise ValueError("clerk codes must be unique")
        ids = [d.id for d in self.devices]
        if len(set(ids)) != len(ids):
            raise ValueError("device ids must be unique")
        for device in self.devices:
            if device.kind in WINDOW_DEVICES and device.window not in numbers:
                raise ValueError(f"device {device.id} ({device.kind}) needs an existing window")
            if device.id_reader is not None:
                reader = next((d for d in self.devices if d.id == device.id_reader), None)
                if reader is None or reader.kind != DeviceKind.ID_READER:
                    raise ValueError(
                        f"{device.id} pairs with unknown ID reader {device.id_reader!r}"
                    )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The hall's time zone, for the ticket day."""
        return ZoneInfo(self.timezone)

    def service(self, code: str) -> ServiceConfig | None:
        """The service with this code, if any."""
        return next((s for s in self.services if s.code == code), None)

    def tiers(self, window: WindowConfig) -> dict[str, int]:
        """The services a window handles, with their tiers."""
        if window.services == "all":
            return {s.code: 1 for s in self.services}
        return dict(window.services)

    def clerk(self, code: str) -> ClerkConfig | None:
        """The clerk with this code, if any."""
        return next((c for c in self.clerks if c.code == code), None)

    def device(self, device_id: str) -> DeviceConfig | None:
        """The device with this id, if any."""
        return next((d for d in self.devices if d.id == device_id), None)

    def devices_of_window(self, window: int, kind: DeviceKind) -> list[DeviceConfig]:
        """The devices of one kind paired with a window."""
        return [d for d in self.devices if d.window == window and d.kind == kind]


def load_hall(path: Path) -> HallConfig:
    """Read and validate a hall YAML file."""
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return HallConfig.model_validate(raw)
