"""How many requests may be in flight at once: additive increase, multiplicative decrease (AIMD).

SendGrid publishes no rate for mail/send; it answers 429 (with ``Retry-After`` / ``X-RateLimit-Reset``) when a
sender goes too fast, and a run of 5xx means it is struggling. The send loop starts up to ``limit`` requests
at a time; each accepted answer grows the window by ``1/window`` (one more request in flight per window's
worth of answers: slowly), a 429 or a run of ``SERVER_ERROR_RUN`` 5xx halves it (once per ``COOLDOWN``:
answers to requests that were already out are the same signal, not a new one), and after a 429 no request
starts until the wait SendGrid asked for has passed.

The window bounds attempts, retries included: each attempt holds a place (``acquire`` … ``release``). Without
that, the batches refused by a 429 all went again together when the wait ended (as many as were out before
the window was halved), and against a limit of N a second half of them were refused again.

Thread-safe: the request threads report, the send loop asks ``limit`` and ``pause_left``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

SERVER_ERROR_RUN = 3  # 5xx answers in a row that halve the window
COOLDOWN = 1.0  # seconds: at most one halving per this long


class Throttle:
    """The window of requests in flight (``limit``), the pause after a 429, and what was seen (for the summary)."""

    def __init__(self, ceiling: int, *, start: int | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ceiling = max(1, int(ceiling))
        self.window = float(min(self.ceiling, max(1, int(start if start is not None else self.ceiling))))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # an attempt ended or the window changed
        self._active = 0  # attempts holding a place (being sent, or being answered)
        self._last_cut = float("-inf")
        self._errors_in_a_row = 0
        self.paused_until = 0.0
        self.rate_limited = 0  # 429 answers seen
        self.server_errors = 0  # 5xx answers seen
        self.cuts = 0  # times the window was halved
        self.lowest = int(self.window)

    @property
    def limit(self) -> int:
        """Requests that may be in flight now (the window is never below one)."""
        return int(self.window)

    def pause_left(self) -> float:
        """Seconds before a request may start (after a 429), 0 when it may start now."""
        return max(0.0, self.paused_until - self._clock())

    def wait(self) -> None:
        """Block until a request may start (a request thread, before each attempt)."""
        while (left := self.pause_left()) > 0:
            self._sleep(left)

    def acquire(self) -> None:
        """Block until an attempt may start (SendGrid's wait has passed and the window has a place), and take
        the place; ``release`` gives it back when the attempt has its answer or failed."""
        while True:
            self.wait()
            with self._room:
                if self.pause_left() > 0:
                    continue  # another 429 came in meanwhile
                if self._active < self.limit:
                    self._active += 1
                    return
                self._room.wait()

    def release(self) -> None:
        with self._room:
            self._active -= 1
            self._room.notify_all()

    def accepted(self) -> None:
        with self._lock:
            self._errors_in_a_row = 0
            self.window = min(float(self.ceiling), self.window + 1.0 / self.window)
            self._room.notify_all()

    def too_many(self, delay: float) -> None:
        """A 429: halve the window, and no request starts for ``delay`` seconds."""
        with self._lock:
            self.rate_limited += 1
            self.paused_until = max(self.paused_until, self._clock() + max(0.0, delay))
            self._cut()

    def server_error(self) -> None:
        with self._lock:
            self.server_errors += 1
            self._errors_in_a_row += 1
            if self._errors_in_a_row >= SERVER_ERROR_RUN:
                self._errors_in_a_row = 0
                self._cut()

    def _cut(self) -> None:
        now = self._clock()
        if now - self._last_cut < COOLDOWN:
            return
        self._last_cut = now
        self.window = max(1.0, self.window / 2)
        self.cuts += 1
        self.lowest = min(self.lowest, int(self.window))
