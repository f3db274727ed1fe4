import bootstate
import display
import fakes
import messages as m
import runner
import selftest


def test_thanks_falls_back_to_welcome():
    d = display.Display(0)
    d.command(100, m.THANKS, "")
    assert d.current(100 + display.THANKS_MS - 1) == (m.THANKS, "")
    assert d.current(100 + display.THANKS_MS) == (m.WELCOME, "")


def test_invite_keeps_staff_name_and_blinks():
    d = display.Display(0)
    d.command(0, m.INVITE, "王小明")
    assert d.current(60000) == (m.INVITE, "王小明")
    assert d.led(0) and not d.led(300) and d.led(500)


def test_press_flashes_led_off():
    d = display.Display(0)
    d.command(0, m.WELCOME, "")
    assert d.led(10)
    d.pressed(20)
    assert not d.led(100)
    assert d.led(200)


def test_selftest_all_good():
    fs = fakes.fresh_fs()
    ok, fail = selftest.run(fakes.CFG, fs, keys_held=0, display=None, link=True)
    assert fail == 0
    assert ok == (m.CHECK_CONFIG | m.CHECK_KEY | m.CHECK_FLASH | m.CHECK_KEYS_RELEASED
                  | m.CHECK_LINK)


def test_selftest_reports_each_failure():
    cfg = dict(fakes.CFG)
    cfg["key"] = "zz"
    cfg["keys"] = 3
    fs = fakes.fresh_fs()
    ok, fail = selftest.run(cfg, fs, keys_held=1, display=False, link=False)
    assert fail == (m.CHECK_CONFIG | m.CHECK_KEY | m.CHECK_KEYS_RELEASED | m.CHECK_DISPLAY
                    | m.CHECK_LINK)
    assert ok == m.CHECK_FLASH


def test_selftest_flash_failure():
    from fs import Fs

    fail = selftest.run(fakes.CFG, Fs("/nonexistent/dir"), 0, None, True)[1]
    assert fail == m.CHECK_FLASH


def test_boot_counter_counts_and_boot_loop_enters_safe_mode():
    fs = fakes.fresh_fs()
    assert bootstate.begin(fs) == (1, False)
    bootstate.good(fs)
    assert bootstate.begin(fs) == (2, False)
    assert bootstate.begin(fs) == (3, False)
    assert bootstate.begin(fs) == (4, False)
    assert bootstate.begin(fs) == (5, True)
    bootstate.good(fs)
    assert bootstate.begin(fs) == (6, False)


runner.main(globals())
