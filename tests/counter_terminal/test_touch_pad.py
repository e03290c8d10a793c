"""The touchscreen pad rendered headless (SDL dummy driver) and driven by synthetic
touches, with the real pad device on mosquitto and the scheduler; screenshots saved."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pygame
import pytest

from counter_terminal.daemon import PadDevice, PadView
from counter_terminal.drivers import load_counter_profile
from counter_terminal.profile import TouchPadProfile
from counter_terminal.rating import Phase
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import BadRatingReason, DeviceKind, RatingLevel
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualCounter
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, Tickets
from tests.counter_terminal.counters import FAST, observe
from tests.kiosk.tickets import artifacts_dir

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from counter_terminal.rating import CONFIRM_BUTTON, ERASE_BUTTON
from counter_terminal.touch_pad import TouchPadApp
from scheduler.contacts import ContactVault

PROFILE = load_counter_profile("touch-pad-10in")
assert isinstance(PROFILE, TouchPadProfile)


@pytest.fixture
def pad(
    bus: BusSettings, hall: HallConfig, clock: FakeClock, scheduler: SchedulerService
) -> Iterator[tuple[PadDevice, Mailbox[PadView]]]:
    device = hall.devices_of_window(1, DeviceKind.RATING_PAD)[0]
    pad = PadDevice(bus, hall, device, PROFILE.rating, counter=FAST, clock=clock)
    views: Mailbox[PadView] = Mailbox()
    pad.listeners.append(views.put)
    pad.start()
    yield pad, views
    pad.stop()


def _photo(tmp_path: Path) -> Path:
    """A clerk photo as a hall would provide it (drawn here: no real faces in the repo)."""
    pygame.init()
    image = pygame.Surface((240, 300))
    image.fill((200, 214, 232))
    pygame.draw.circle(image, (120, 90, 70), (120, 110), 62)
    pygame.draw.ellipse(image, (30, 60, 110), pygame.Rect(30, 190, 180, 160))
    photos = tmp_path / "photos"
    photos.mkdir()
    pygame.image.save(image, str(photos / "1001.png"))
    return photos


def test_clerk_card_then_the_prompt_pops_up_and_a_touch_rates(
    pad: tuple[PadDevice, Mailbox[PadView]],
    staff: Callable[[int], VirtualCounter],
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    tmp_path: Path,
    scheduler: SchedulerService,
) -> None:
    device, views = pad
    scheduler.contacts = ContactVault(tmp_path / "contact.key")  # as paidui scheduler makes it
    seen = observe(bus, hall, [1])
    app = TouchPadApp(device, PROFILE, photos=_photo(tmp_path))
    app.start()
    try:
        counter = staff(1)  # 王芳, 1001, five stars
        assert seen.window(1, lambda w: w.clerk is not None and w.clerk.code == "1001")
        tickets(1)
        assert views.wait_for(lambda v: v.clerk is not None, WAIT)
        app.step()
        app.save(artifacts_dir() / "pad-clerk-card.png")

        # Finish: the five levels pop up by themselves.
        assert counter.call_next().status == "ok"
        assert counter.finish().status == "ok"
        rating = views.wait_for(lambda v: v.phase is Phase.RATING, WAIT)
        # The citizen sees which ticket and which service they are rating.
        assert rating is not None and rating.ticket_label == "A001"
        social = hall.service("social")
        assert social is not None and rating.service == social.names["zh"]
        app.step()
        app.save(artifacts_dir() / "pad-rating-prompt.png")
        # A touch outside every button does nothing; a touch on 不满意 asks why.
        app.touch((2, PROFILE.height - 2))
        target = app.target(PROFILE.rating.levels.index(RatingLevel.DISSATISFIED) + 1)
        assert target is not None
        app.touch(target.center)
        assert views.wait_for(lambda v: v.phase is Phase.REASON, WAIT)
        app.step()
        app.save(artifacts_dir() / "pad-bad-rating-reason.png")
        reason = app.target(PROFILE.rating.reasons.index(BadRatingReason.PROCESS) + 1)
        assert reason is not None
        app.touch(reason.center)
        assert seen.ratings.wait_count(1, WAIT)
        record = seen.rating_records()[0]
        assert record.outcome is RatingLevel.DISSATISFIED
        assert record.reason is BadRatingReason.PROCESS
        # The rating is in; the pad offers to leave a number for the callback.
        assert views.wait_for(lambda v: v.phase is Phase.CONTACT, WAIT)
        app.step()  # draw it: the keys are where this frame put them
        for digit in "138001380009":  # one digit too many: the twelfth is not taken
            key = app.target(100 + int(digit))
            assert key is not None
            app.touch(key.center)
        erase = app.target(ERASE_BUTTON)
        assert erase is not None
        erased = len(views.items())
        app.touch(erase.center)
        assert views.wait_for(lambda v: v.digits == "1380013800", WAIT, after=erased)
        last = app.target(100)
        assert last is not None
        typed = len(views.items())
        app.touch(last.center)
        assert views.wait_for(lambda v: v.digits == "13800138000", WAIT, after=typed)
        app.step()
        app.save(artifacts_dir() / "pad-contact.png")
        confirm = app.target(CONFIRM_BUTTON)
        assert confirm is not None
        before = seen.key_count("pad-1")
        app.touch(confirm.center)
        assert views.wait_for(lambda v: v.phase is Phase.THANKS, WAIT)
        # The scheduler kept the number (the reason's key event may arrive late: skip it).
        kept = seen.key("pad-1", "ok", after=before, text="回访号码")
        assert kept is not None and kept.text == "回访号码 138****8000"
        ((sealed, masked),) = scheduler.store.sealed_contacts().values()
        assert masked == "138****8000" and "13800138000" not in sealed
        app.step()
        app.save(artifacts_dir() / "pad-thanks.png")
    finally:
        app.stop()
        seen.stop()
