"""The AIMD window of requests in flight: halves on a 429 or a run of 5xx, grows back slowly, honours waits."""

from __future__ import annotations

from digest.deliver.throttle import COOLDOWN, SERVER_ERROR_RUN, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_429_halves_the_window_and_pauses_new_requests() -> None:
    clock = Clock()
    t = Throttle(16, clock=clock, sleep=clock.sleep)
    assert t.limit == 16 and t.pause_left() == 0
    t.too_many(2.5)
    assert t.limit == 8 and t.rate_limited == 1
    assert t.pause_left() == 2.5
    t.wait()  # a request thread waits exactly the time SendGrid asked for
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
    import threading

    t = Throttle(4)
    t.too_many(0)
    assert t.limit == 2
    t.acquire()
    t.acquire()
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
        t.acquire()
