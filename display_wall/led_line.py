"""One RS-485 line of LED boards: only changed boards are sent, answers awaited, silence reported.

A shared 9600-baud line moves about 1 KB a second, so the line keeps, per board, only the
newest content and sends it only when it differs from what the board already shows.
Window boards go before hall strips (a call is read above the window first). A frame
the board does not answer is resent; a board that still does not answer is reported
silent and is then only tried every ``probe_interval_s``, so it never holds up the
others. When it answers again it gets its content back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from display_wall.boards import BoardCodec, BoardContent
from display_wall.profile import LineTiming
from hallbus.links import ByteLink, LinkGone, LinkRunner

log = logging.getLogger(__name__)

READ_SLICE_S = 0.005
IDLE_S = 0.05  # longest idle wait: the port is read (and its loss noticed) this often


class BoardProblem:
    """What a board's status says about it."""

    NOT_ANSWERING = "not_answering"
    REFUSED = "refused_command"
    UNPLUGGED = "line_unplugged"


HealthHandler = Callable[[str, str | None], None]  # board id, problem or None when healthy
SentHandler = Callable[[str, BoardContent, float], None]  # board id, content, last byte at


@dataclass
class _Board:
    board_id: str
    codec: BoardCodec
    timing: LineTiming
    on_health: HealthHandler
    priority: int  # lower goes first
    desired: BoardContent | None = None
    shown: BoardContent | None = None  # what the board confirmed (or was sent, if it never answers)
    changed_at: float = 0.0
    greeted: bool = False
    problem: str | None = None
    missed: int = 0
    next_try: float = 0.0


class LedLine:
    """The host end of one LED line; one thread owns the port."""

    def __init__(self, link: ByteLink, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.clock = clock
        self.noise = 0  # bytes on the line that were no answer we waited for
        self.reconnect_s = 1.0
        self._boards: dict[str, _Board] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._runner: LinkRunner | None = None  # made at start: attach sets reconnect_s
        self._sent_listeners: list[SentHandler] = []

    # --- wiring ------------------------------------------------------------------------
    def attach(
        self,
        board_id: str,
        codec: BoardCodec,
        timing: LineTiming,
        on_health: HealthHandler,
        *,
        priority: int = 0,
    ) -> None:
        """Add a board (before ``start``)."""
        if board_id in self._boards:
            raise ValueError(f"board {board_id} attached twice")
        self._boards[board_id] = _Board(board_id, codec, timing, on_health, priority)
        self.reconnect_s = min(self.reconnect_s, timing.reconnect_s)

    def on_sent(self, listener: SentHandler) -> None:
        """Call ``listener`` when a board's content has gone out (and was answered)."""
        self._sent_listeners.append(listener)

    def show(self, board_id: str, content: BoardContent) -> None:
        """What the board should show now; sent only if it differs from what it shows."""
        with self._lock:
            board = self._boards[board_id]
            if board.desired == content:
                return
            board.desired = content
            board.changed_at = self.clock()
        self._wake.set()

    def problem(self, board_id: str) -> str | None:
        """The board's current problem, None when healthy."""
        return self._boards[board_id].problem

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Run the line in its own thread."""
        self._runner = LinkRunner(
            self.link,
            f"led-{self.link.describe()}",
            step=self._step,
            on_open=self._opened,
            on_gone=self._gone,
            reconnect_s=self.reconnect_s,
        )
        self._runner.start()

    def stop(self) -> None:
        """Stop and close the port."""
        if self._runner is not None:
            self._runner.stopping.set()
            self._wake.set()
            self._runner.stop()
        else:
            self.link.close()

    # --- the loop ----------------------------------------------------------------------
    def _step(self) -> None:
        board = self._next_board(self.clock())
        if board is None:
            self._idle()
        else:
            self._serve(board)

    def _gone(self, _err: LinkGone) -> None:
        for board in self._boards.values():
            self._set_problem(board, BoardProblem.UNPLUGGED)

    def _opened(self) -> None:
        with self._lock:
            for board in self._boards.values():
                # The boards may have lost power with the adapter: send everything again.
                board.shown = None
                board.greeted = False
                board.missed = 0
                board.next_try = 0.0
                if board.problem == BoardProblem.UNPLUGGED:
                    board.problem = None
                    board.on_health(board.board_id, None)

    def _idle(self) -> None:
        """Nothing to send: wait for new content or a silent board's next try."""
        due = [b.next_try for b in self._boards.values() if b.problem and b.desired != b.shown]
        wait = min(IDLE_S, max(0.0, min(due) - self.clock())) if due else IDLE_S
        self._wake.wait(wait)
        self._wake.clear()  # content shown after this is seen by the next _next_board
        stray = self.link.read(0)  # also notices an unplugged adapter while idle
        if stray:
            self.noise += len(stray)

    def _next_board(self, now: float) -> _Board | None:
        with self._lock:
            ready = [
                b
                for b in self._boards.values()
                if b.desired is not None
                and (b.desired != b.shown or not b.greeted)
                and (b.problem is None or now >= b.next_try)
            ]
        if not ready:
            return None
        return min(ready, key=lambda b: (b.problem is not None, b.priority, b.changed_at))

    def _serve(self, board: _Board) -> None:
        with self._lock:
            content = board.desired
        assert content is not None
        frames = ([] if board.greeted else board.codec.greeting()) + board.codec.frames(content)
        for frame in frames:
            outcome = self._send(board, frame)
            if outcome is not True:
                self._missed(board, outcome)
                return
        board.greeted = True
        board.missed = 0
        board.shown = content
        self._set_problem(board, None)
        at = self.clock()
        for listener in self._sent_listeners:
            listener(board.board_id, content, at)

    def _send(self, board: _Board, frame: bytes) -> bool | None:
        """Write a frame and wait for its answer; True ok, False refused, None silent."""
        attempts = 1 if board.problem else board.timing.retries + 1  # a silent board: one try
        outcome: bool | None = None
        for _ in range(attempts):
            self._write(board, frame)
            if not board.codec.acknowledges:
                return True
            outcome = self._await(board)
            if outcome is True:
                return True
        return outcome

    def _write(self, board: _Board, frame: bytes) -> None:
        # Bytes still in the input are from before this frame: none of them is its answer.
        stale = self.link.read(0)
        if stale:
            self.noise += len(stale)
        self.link.write(frame)

    def _await(self, board: _Board) -> bool | None:
        answer = board.codec.answer()
        deadline = self.clock() + board.timing.reply_timeout_s
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return None
            data = self.link.read(min(remaining, READ_SLICE_S * 10))
            if not data:
                continue
            result, noise = answer.feed(data)
            self.noise += noise
            if result is not None:
                return result

    def _missed(self, board: _Board, outcome: bool | None) -> None:
        board.missed += 1
        board.next_try = self.clock() + board.timing.probe_interval_s
        if board.missed >= board.timing.missed_before_silent or board.problem:
            problem = BoardProblem.REFUSED if outcome is False else BoardProblem.NOT_ANSWERING
            self._set_problem(board, problem)

    def _set_problem(self, board: _Board, problem: str | None) -> None:
        if board.problem == problem:
            return
        board.problem = problem
        if problem is not None:
            log.warning("LED board problem", extra={"board": board.board_id, "problem": problem})
        board.on_health(board.board_id, problem)
