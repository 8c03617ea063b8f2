"""The AIMD window of requests in flight: halves on a 429 or a run of 5xx, grows back slowly, honours waits."""

from __future__ import annotations

import threading
from collections.abc import Callable

from digest.deliver.throttle import COOLDOWN, SERVER_ERROR_RUN, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def returns(call: Callable[[], None]) -> bool:
    """Whether ``call`` returns within 5 s (a throttle that never lets an attempt start would block forever)."""
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(5)
    return not worker.is_alive()


def test_a_429_halves_the_window_and_pauses_new_requests() -> None:
    clock = Clock()
    t = Throttle(16, clock=clock, sleep=clock.sleep)
    assert t.limit == 16 and t.pause_left() == 0
    t.too_many(2.5)
    assert t.limit == 8 and t.rate_limited == 1
    assert t.pause_left() == 2.5
    assert returns(t.wait)  # a request thread waits exactly the time SendGrid asked for
    assert clock.now == 102.5 and t.pause_left() == 0


def test_answers_to_requests_already_out_are_one_signal() -> None:
    clock = Clock()
    t = Throttle(16, clock=clock, sleep=clock.sleep)
    for _ in range(5):  # five requests that were in flight together all come back 429
        t.too_many(1.0)
    assert t.limit == 8 and t.cuts == 1 and t.rate_limited == 5
    clock.now += COOLDOWN
    t.too_many(1.0)
    assert t.limit == 4 and t.cuts == 2


def test_the_window_never_drops_below_one() -> None:
    clock = Clock()
    t = Throttle(4, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        clock.now += COOLDOWN
        t.too_many(0)
    assert t.limit == 1 and t.lowest == 1


def test_it_grows_back_slowly_up_to_the_ceiling() -> None:
    clock = Clock()
    t = Throttle(16, clock=clock, sleep=clock.sleep)
    t.too_many(0)
    assert t.limit == 8
    for _ in range(7):
        t.accepted()
    assert t.limit == 8  # less than one window's worth of answers: not yet one more
    for _ in range(2):
        t.accepted()
    assert t.limit == 9
    for _ in range(1000):
        t.accepted()
    assert t.limit == 16 and t.window == 16.0


def test_a_run_of_server_errors_halves_single_ones_do_not() -> None:
    clock = Clock()
    t = Throttle(16, clock=clock, sleep=clock.sleep)
    for _ in range(SERVER_ERROR_RUN - 1):
        t.server_error()
    t.accepted()  # the run is broken
    for _ in range(SERVER_ERROR_RUN - 1):
        t.server_error()
    assert t.cuts == 0 and t.limit == 16
    t.server_error()
    assert t.cuts == 1 and t.limit == 8 and t.pause_left() == 0  # no wait was asked for


def test_retries_wait_for_a_place_in_the_halved_window() -> None:
    """The window bounds attempts, retries included: after a cut, the batches refused together do not all go
    again together."""
    t = Throttle(4)
    t.too_many(0)
    assert t.limit == 2
    assert returns(t.acquire)
    assert returns(t.acquire)
    third = threading.Thread(target=t.acquire, daemon=True)
    third.start()
    third.join(0.3)
    assert third.is_alive()  # the window is full: the third attempt waits
    t.release()
    third.join(5)
    assert not third.is_alive()  # a place came free
    t.release()
    t.release()
    for _ in range(2):  # both places are free again
        assert returns(t.acquire)


def test_a_ceiling_or_start_below_one_is_one() -> None:
    one = Throttle(0)
    assert one.limit == 1
    one.accepted()
    assert one.limit == 1  # its ceiling is one
    low = Throttle(8, start=0)
    assert low.limit == 1
    low.accepted()  # one window's worth of answers (one): one more in flight
    assert low.limit == 2
    assert Throttle(4, start=9).limit == 4


def test_a_short_wait_is_waited_too() -> None:
    clock = Clock()
    t = Throttle(4, clock=clock, sleep=clock.sleep)
    t.too_many(0.4)
    assert returns(t.acquire)
    assert clock.now == 100.4


def test_a_429_arriving_as_an_attempt_starts_holds_it() -> None:
    """Another request's 429 lands between the end of this one's wait and its taking a place: it waits again."""
    clock = Clock()
    t = Throttle(4, clock=clock, sleep=clock.sleep)
    calls = 0

    def tick() -> float:
        nonlocal calls
        calls += 1
        if calls == 1:  # the wait's look at the clock: nothing to wait for, then the 429 comes in
            clock.now += 0.001
            t._clock = clock
            t.too_many(0.5)
        return clock.now

    t._clock = tick
    assert returns(t.acquire)
    assert clock.now >= 100.5  # it waited for the new pause before starting


def test_after_a_cut_it_takes_a_whole_new_run_of_server_errors() -> None:
    clock = Clock()
    t = Throttle(16, clock=clock, sleep=clock.sleep)
    for _ in range(SERVER_ERROR_RUN):
        t.server_error()
    assert t.limit == 8
    clock.now += COOLDOWN
    for _ in range(SERVER_ERROR_RUN - 1):
        t.server_error()
    assert t.limit == 8
    t.server_error()
    assert t.limit == 4


def test_a_waiting_attempt_starts_when_the_window_grows() -> None:
    t = Throttle(8, start=2)
    assert returns(t.acquire)
    assert returns(t.acquire)
    waiting = threading.Thread(target=t.acquire, daemon=True)
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()
    while t.limit < 3:  # answers to other requests: the window grows to three, nobody releases a place
        t.accepted()
    waiting.join(5)
    assert not waiting.is_alive()


def test_a_waiting_attempt_sleeps_rather_than_spins() -> None:
    """Two cores are shared by the send loop, the request threads and the producer: a full window costs none."""
    looks = 0

    def clock() -> float:
        nonlocal looks
        looks += 1
        return 0.0

    t = Throttle(1, clock=clock)
    assert returns(t.acquire)
    waiting = threading.Thread(target=t.acquire, daemon=True)
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and looks < 20
    t.release()
    waiting.join(5)
    assert not waiting.is_alive()
