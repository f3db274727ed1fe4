import fakes
import messages as m
import runner
from outbox import NAME, Outbox


def test_add_ack_before_flush_never_writes():
    fs = fakes.fresh_fs()
    box = Outbox(fs, 0, flush_ms=100)
    box.add(0, 1, 1, m.PRESS, b"\x00\x01")
    box.ack(50, 1, 1)
    assert not box.flush(200)
    assert box.writes == 0


def test_writes_are_batched_and_none_when_idle():
    fs = fakes.fresh_fs()
    box = Outbox(fs, 0, flush_ms=100)
    for i in range(5):
        box.add(i * 10, 1, i + 1, m.PRESS, b"\x00\x01")
        assert not box.flush(i * 10)
    assert box.flush(100)
    for t in range(200, 5000, 100):
        assert not box.flush(t)
    assert box.writes == 1


def test_survives_reboot_with_age_lower_bound():
    fs = fakes.fresh_fs()
    box = Outbox(fs, 1000)
    box.add(1000, 4, 9, m.PRESS, b"\x01\x03")
    box.flush(1500)
    again = Outbox(fs, 50)
    assert len(again) == 1
    entry = again.head()
    assert entry[:4] == [4, 9, m.PRESS, b"\x01\x03"]
    assert entry[6] & m.AGE_LOWER_BOUND
    assert Outbox.age(entry, 250) == 500 + 200


def test_atomic_replace_leaves_no_temp_file():
    import os

    fs = fakes.fresh_fs()
    box = Outbox(fs, 0)
    box.add(0, 1, 1, m.PAUSE_KEY, b"")
    box.flush(0, force=True)
    names = os.listdir(fs.path("").rstrip("/"))
    assert NAME in names and NAME + ".tmp" not in names


def test_half_written_temp_file_is_ignored():
    fs = fakes.fresh_fs()
    box = Outbox(fs, 0)
    box.add(0, 1, 1, m.PAUSE_KEY, b"")
    box.flush(0, force=True)
    with open(fs.path(NAME + ".tmp"), "w") as f:
        f.write('{"v": 1, "e": [[1, 2')
    assert len(Outbox(fs, 0)) == 1


def test_corrupt_file_is_reported_not_raised():
    fs = fakes.fresh_fs()
    fs.replace(NAME, "{not json")
    box = Outbox(fs, 0)
    assert box.corrupt and len(box) == 0


def test_cap():
    box = Outbox(fakes.fresh_fs(), 0, cap=3)
    assert [box.add(0, 1, s, m.PAUSE_KEY, b"") for s in (1, 2, 3, 4)] == [True, True, True, False]
    assert box.room() == 0


runner.main(globals())
