"""The voice announcer: one worker says each call, in order, never two at once.

Clips come from a folder of recordings (``<clips>/<language>/<word>.wav``) where they
exist; a missing word is made once with espeak-ng and kept in a cache folder; the chime
is synthesised. An announcement's clips are joined into one sound and played through
pygame.mixer, so there are no gaps between words. Without an audio device (or without
espeak-ng for a missing word) the worker logs what it would have said and carries on.
"""

from __future__ import annotations

import logging
import math
import shutil
import struct
import subprocess
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pygame

from display_wall.voice_plan import (
    CHIME,
    Announcement,
    AnnouncementQueue,
    Clip,
    VoiceScript,
    load_script,
    voice_languages,
)
from hallbus.daemon import DeviceDaemon
from hallbus.messages import CallAnnouncement, DeviceKind, HallState, PayloadError, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallEventKind

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050  # espeak-ng's own rate, so its clips need no resampling
CLIP_TIMEOUT_S = 15


class ClipMissing(LookupError):
    """A word has no recording and cannot be generated (no espeak-ng)."""


def write_chime(path: Path) -> None:
    """A two-tone chime (ding-dong), so the hall looks up before the call."""
    frames = bytearray()
    for frequency, seconds in ((784.0, 0.35), (587.3, 0.55)):  # G5 then D5
        count = int(SAMPLE_RATE * seconds)
        for n in range(count):
            fade = 1.0 - n / count
            sample = 0.4 * fade * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE)
            frames += struct.pack("<h", int(sample * 32767))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(bytes(frames))


class ClipLibrary:
    """Finds or makes the sound file of each clip."""

    def __init__(self, cache: Path, recorded: Path | None = None) -> None:
        self.cache = cache
        self.recorded = recorded
        self.espeak = shutil.which("espeak-ng")
        self._lock = threading.Lock()

    def path(self, clip: Clip) -> Path:
        """The clip's WAV file: recorded, cached, or made now."""
        name = f"{clip.key}.wav"
        if self.recorded is not None and (self.recorded / name).is_file():
            return self.recorded / name
        target = self.cache / name
        with self._lock:
            if target.is_file():
                return target
            if clip.word == CHIME:
                write_chime(target)
                return target
            if self.espeak is None:
                raise ClipMissing(f"no recording of {clip.key} and espeak-ng is not installed")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part.wav")
            subprocess.run(
                [self.espeak, "-v", clip.espeak_voice, "-w", str(partial), clip.text],
                check=True,
                capture_output=True,
                timeout=CLIP_TIMEOUT_S,
            )
            partial.replace(target)  # never a half-written clip in the cache
            return target

    def prepare(self, clips: list[Clip]) -> list[Path]:
        """Every clip's file, in order."""
        return [self.path(clip) for clip in clips]


class AudioOutput(Protocol):
    """Plays one announcement and returns when it has been said."""

    name: str
    needs_files: bool  # False: the output never plays the clips, so none are made

    def play(self, files: list[Path], said: str, started: Callable[[], None]) -> None:
        """Say it; call ``started`` as the first clip starts."""


class LogOutput:
    """No audio device: log what would have been said."""

    name = "log"
    needs_files = False

    def play(self, files: list[Path], said: str, started: Callable[[], None]) -> None:
        """Log the announcement."""
        started()
        log.info("would say", extra={"said": said, "clips": len(files)})


class MixerOutput:
    """The loudspeaker through pygame.mixer (SDL's audio driver)."""

    name = "mixer"
    needs_files = True

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._sounds: dict[Path, pygame.mixer.Sound] = {}

    def open(self) -> None:
        """Open the audio device; ``pygame.error`` when there is none."""
        pygame.mixer.init(frequency=SAMPLE_RATE, size=-16, channels=1)

    def play(self, files: list[Path], said: str, started: Callable[[], None]) -> None:
        """Join the clips into one sound and play it to the end."""
        raw = b"".join(self._sound(path).get_raw() for path in files)
        sound = pygame.mixer.Sound(buffer=raw)
        channel = sound.play()
        started()
        log.info("saying", extra={"said": said})
        # The mixer plays in its own thread; wait the sound's length (or until stopped).
        self.stop.wait(sound.get_length())
        if channel is not None:
            channel.stop()

    def _sound(self, path: Path) -> pygame.mixer.Sound:
        if path not in self._sounds:
            self._sounds[path] = pygame.mixer.Sound(str(path))
        return self._sounds[path]


Started = Callable[[Announcement, float], None]


class VoiceWorker:
    """Takes calls off the queue one at a time and says them."""

    def __init__(
        self,
        library: ClipLibrary,
        output: AudioOutput,
        *,
        repeats: int = 2,
        rush_backlog: int = 3,
        languages: list[str] | None = None,
    ) -> None:
        self.library = library
        self.output = output
        self.queue = AnnouncementQueue(repeats=repeats, rush_backlog=rush_backlog)
        self.languages = languages or ["zh", "en"]
        self.announced = 0  # announcements said since start
        self.listeners: list[Started] = []  # as each announcement starts
        self.done_listeners: list[Callable[[Announcement], None]] = []  # as each one ends
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def scripts(self) -> list[VoiceScript]:
        """The voice scripts of the hall's languages that have one."""
        known = set(voice_languages())
        return [load_script(lang) for lang in self.languages if lang in known] or [
            load_script("zh")
        ]

    def add(self, call: CallAnnouncement) -> None:
        """Queue a call (from any thread)."""
        with self._cond:
            self.queue.add(call)
            self._cond.notify_all()

    def start(self) -> None:
        """Say calls in a thread of its own."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current clip."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: len(self.queue) > 0 or self._stop.is_set())
                if self._stop.is_set():
                    return
                announcement = self.queue.take(self.scripts())
            if announcement is not None:
                self._say(announcement)

    def _say(self, announcement: Announcement) -> None:
        def started() -> None:
            at = time.monotonic()
            for listener in self.listeners:
                listener(announcement, at)

        if not self.output.needs_files:
            self.output.play([], announcement.said, started)
            self._done(announcement)
            return
        try:
            files = self.library.prepare(list(announcement.clips))
        except (ClipMissing, subprocess.SubprocessError, OSError) as err:
            log.warning("cannot make the clips", extra={"error": str(err)})
            LogOutput().play([], announcement.said, started)
            files = None
        try:
            if files is not None:
                self.output.play(files, announcement.said, started)
        except pygame.error as err:
            log.warning("audio failed", extra={"error": str(err), "said": announcement.said})
        self._done(announcement)

    def _done(self, announcement: Announcement) -> None:
        self.announced += 1
        for listener in self.done_listeners:
            listener(announcement)


class VoiceDevice(DeviceDaemon):
    """The announcer on the bus: hears every call, follows the hall's languages."""

    kind = DeviceKind.VOICE

    def __init__(
        self, settings: BusSettings, hall: str, device_id: str, worker: VoiceWorker
    ) -> None:
        super().__init__(settings, hall, device_id)
        self.worker = worker

    def setup(self) -> None:
        """Calls as they happen; the hall's languages from its retained state."""
        self.bus.subscribe(self.topics.hall_event(HallEventKind.CALL), self._on_call, inline=True)
        self.bus.subscribe(self.topics.hall_state(), self._on_hall, inline=True)

    def start(self, timeout: float | None = 10.0) -> None:
        """Connect, then report which output speaks."""
        super().start(timeout=timeout)
        self.publish_status(healthy=True, detail={"output": self.worker.output.name})

    def _on_call(self, topic: str, payload: bytes) -> None:
        try:
            call = decode(CallAnnouncement, payload)
        except PayloadError as err:
            log.warning("bad call event", extra={"error": str(err)})
            return
        self.worker.add(call)

    def _on_hall(self, topic: str, payload: bytes) -> None:
        try:
            state = decode(HallState, payload)
        except PayloadError:
            return
        self.worker.languages = state.languages


class Announcer:
    """The voice daemon: the device, the worker and its audio output."""

    def __init__(
        self,
        settings: BusSettings,
        hall: str,
        device_id: str,
        *,
        cache: Path,
        recorded: Path | None = None,
        audio: bool = True,
        repeats: int = 2,
        rush_backlog: int = 3,
    ) -> None:
        self._stop = threading.Event()
        output: AudioOutput = LogOutput()
        if audio:
            mixer = MixerOutput(self._stop)
            try:
                mixer.open()
                output = mixer
            except pygame.error as err:
                log.warning(
                    "no audio device: logging what would be said", extra={"error": str(err)}
                )
        self.worker = VoiceWorker(
            ClipLibrary(cache, recorded), output, repeats=repeats, rush_backlog=rush_backlog
        )
        self.device = VoiceDevice(settings, hall, device_id, self.worker)

    def start(self, timeout: float | None = 10.0) -> None:
        """Start saying calls, then listen for them."""
        self.worker.start()
        self.device.start(timeout=timeout)

    def stop(self) -> None:
        """Stop listening and saying."""
        self.device.stop()
        self._stop.set()
        self.worker.stop()
