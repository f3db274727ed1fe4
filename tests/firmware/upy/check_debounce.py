import runner
from debounce import Debouncer
from ticks import PERIOD, ticks_add


def test_bounce_gives_one_press_after_it_settles():
    d = Debouncer(2, stable_ms=30)
    got = 0
    for t, raw in ((0, 1), (5, 0), (8, 1), (12, 0), (15, 1), (30, 1), (44, 1), (46, 1), (80, 1)):
        got_now = d.update(t, raw)
        if got_now:
            assert t == 46, t
        got |= got_now
    assert got == 1


def test_release_and_press_again():
    d = Debouncer(1, stable_ms=30)
    assert d.update(0, 1) == 0
    assert d.update(30, 1) == 1
    assert d.update(40, 0) == 0
    assert d.update(70, 0) == 0
    assert d.held() == 0
    assert d.update(80, 1) == 0
    assert d.update(110, 1) == 1


def test_glitch_shorter_than_stable_is_ignored():
    d = Debouncer(1, stable_ms=30)
    assert d.update(0, 1) == 0
    assert d.update(20, 0) == 0
    assert d.update(100, 0) == 0
    assert d.held() == 0


def test_keys_held_at_power_on_raise_no_press():
    d = Debouncer(2)
    d.prime(0, 2)
    assert d.update(100, 2) == 0
    assert d.update(200, 3) == 0
    assert d.update(240, 3) == 1


def test_stuck_key_after_ten_seconds():
    d = Debouncer(3, stable_ms=30, stuck_ms=10000)
    d.update(0, 4)
    d.update(30, 4)
    assert d.stuck(9999) == 0
    assert d.stuck(10000) == 4
    d.update(10001, 0)
    d.update(10040, 0)
    assert d.stuck(10040) == 0


def test_works_across_tick_wrap():
    d = Debouncer(1, stable_ms=30)
    t0 = PERIOD - 10
    assert d.update(t0, 1) == 0
    assert d.update(ticks_add(t0, 29), 1) == 0
    assert d.update(ticks_add(t0, 30), 1) == 1


runner.main(globals())
