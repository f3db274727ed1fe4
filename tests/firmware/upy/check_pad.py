# The pad main loop with fake keys, link and a real folder for its flash.
import struct

import fakes
import messages as m
import pad as padmod
import runner
from pad import Pad
from ticks import PERIOD, ticks_add


def make(link=None, fs=None, boot=1, now=0, cfg=None):
    io = fakes.Io()
    link = link or fakes.Link()
    fs = fs or fakes.fresh_fs()
    return Pad(cfg or fakes.CFG, io, link, fs, boot, now), io, link, fs


def press(p, io, key, t):
    """Hold `key` long enough to pass the debounce, then release it; returns the time after."""
    io.held = 1 << key
    for dt in (0, 10, 20, 30, 40):
        p.step(t + dt)
    io.held = 0
    for dt in (50, 60, 70, 80, 90):
        p.step(t + dt)
    return t + 100


_down = [100]


def ack_head(p, link):
    """Queue the agent's ack of the pad's oldest unacked event."""
    head = p.outbox.head()
    _down[0] += 1
    link.inbox = [fakes.ack(head[1], head[0], _down[0])]


def events(link):
    return [fakes.up(raw) for raw in link.sent if fakes.up(raw)[0] != m.HEARTBEAT]


def test_press_sends_one_frame_with_level_and_age():
    p, io, link, _ = make()
    p.step(0)
    link.sent = []  # the boot heartbeat
    press(p, io, 1, 1000)
    [(kind, boot, seq, body)] = events(link)
    assert (kind, boot, seq) == (m.PRESS, 1, 2)  # seq 1 was the boot heartbeat
    flags, age = struct.unpack(">BI", body[:5])
    assert body[5:] == bytes((1, m.UNSATISFIED)) and flags == 0 and age == 0


def test_five_key_pad_levels():
    cfg = dict(fakes.CFG)
    cfg["keys"] = 5
    p, io, link, _ = make(cfg=cfg)
    t = 0
    for key in range(5):
        t = press(p, io, key, t)
        ack_head(p, link)
        p.step(t)
        t += 10
    levels = []
    for kind, _, _, body in events(link):
        if kind == m.PRESS:
            levels.append(body[6])
    assert levels == [0, 1, 2, 3, 4]


def test_ack_empties_outbox_and_no_retransmission():
    p, io, link, _ = make()
    t = press(p, io, 0, 0)
    ack_head(p, link)
    p.step(t)
    assert len(p.outbox) == 0
    for dt in range(0, 9000, 100):
        p.step(t + dt)
    assert len(events(link)) == 1


def test_no_ack_retransmits_same_seq_with_backoff_and_growing_age():
    p, io, link, _ = make()
    sent_at = []
    io.held = 1
    for now in range(0, 16000, 10):
        if now == 100:
            io.held = 0
        before = len(link.sent)
        p.step(now)
        if len(link.sent) > before and fakes.up(link.sent[-1])[0] == m.PRESS:
            sent_at.append(now)
    evs = events(link)
    assert len(evs) == 6
    assert {(k, b, s) for k, b, s, _ in evs} == {(m.PRESS, 1, 2)}
    gaps = [sent_at[i + 1] - sent_at[i] for i in range(len(sent_at) - 1)]
    assert gaps == [500, 1000, 2000, 4000, 8000], gaps
    ages = [struct.unpack(">BI", body[:5])[1] for _, _, _, body in evs]
    assert ages == sorted(ages) and ages[-1] > 15000


def test_reboot_resends_unacked_event_from_flash():
    p, io, _, fs = make()
    t = press(p, io, 0, 0)
    p.step(t + 200)  # past the flush delay
    p2, io2, link2, _ = make(fs=fs, boot=2, now=5)
    p2.step(5)
    (kind, boot, seq, body) = fakes.up(link2.sent[0])
    assert (kind, boot, seq) == (m.PRESS, 1, 2)
    assert body[0] & m.AGE_LOWER_BOUND
    ack_head(p2, link2)
    p2.step(10)
    assert len(p2.outbox) == 0
    # The new boot's own frames come after, with the new boot number.
    press(p2, io2, 1, 20)
    assert [(k, b) for k, b, _, _ in events(link2)][-1] == (m.PRESS, 2)


def test_events_go_one_at_a_time_in_order():
    p, io, link, _ = make()
    t = press(p, io, 0, 0)
    t = press(p, io, 1, t)
    t = press(p, io, 5, t)  # the pause key
    assert [s for _, _, s, _ in events(link)] == [2]
    for _ in range(3):
        ack_head(p, link)
        p.step(t)
        t += 10
    assert [(k, s) for k, _, s, _ in events(link)] == [
        (m.PRESS, 2), (m.PRESS, 3), (m.PAUSE_KEY, 4)]


def test_heartbeat_every_ten_seconds_when_idle():
    p, _, link, _ = make()
    for t in range(0, 30001, 100):
        p.step(t)
    beats = [fakes.up(r) for r in link.sent]
    assert [k for k, _, _, _ in beats] == [m.HEARTBEAT] * 4
    assert [s for _, _, s, _ in beats] == [1, 2, 3, 4]
    uptime = struct.unpack(">IBBB", beats[-1][3])[0]
    assert uptime == 30


def test_rs485_pad_talks_only_when_polled():
    link = fakes.Link(polled=True)
    p, io, link, _ = make(link=link)
    t = press(p, io, 0, 0)
    for now in range(t, t + 20000, 100):
        p.step(now)
    assert link.sent == []
    link.inbox = [fakes.down(m.POLL, 1, b"")]
    p.step(t + 20000)
    [(kind, _, seq, _)] = [fakes.up(r) for r in link.sent]
    assert (kind, seq) == (m.PRESS, 1)
    link.inbox = [fakes.ack(1, 1, 2), fakes.down(m.POLL, 3, b"")]
    p.step(t + 20010)
    assert fakes.up(link.sent[-1])[0] == m.HEARTBEAT


def test_display_commands_and_replayed_ones():
    p, io, link, _ = make()
    link.inbox = [fakes.down(m.DISPLAY, 5, bytes([m.INVITE]) + "王小明".encode())]
    p.step(0)
    assert io.shown[-1][:2] == (m.INVITE, "王小明")
    link.inbox = [fakes.down(m.DISPLAY, 6, bytes([m.PAUSED]))]
    p.step(10)
    link.inbox = [fakes.down(m.DISPLAY, 5, bytes([m.INVITE]) + "王小明".encode())]
    p.step(20)
    assert io.shown[-1][0] == m.PAUSED
    assert p.rejected == 1


def test_forged_and_foreign_frames_are_ignored():
    p, io, link, _ = make()
    t = press(p, io, 0, 0)
    forged = bytearray(fakes.ack(1, 1))
    forged[12] ^= 1
    from frame import seal
    from hmac_sha256 import HmacSha256

    other_key = seal(HmacSha256(b"x" * 32), 3, m.ACK, 1, 1, m.ack(1, 1))
    link.inbox = [bytes(forged), other_key, fakes.down(m.ACK, 2, m.ack(1, 99))]
    p.step(t)
    assert len(p.outbox) == 1
    assert p.rejected == 2


def test_stuck_key_raises_and_clears_a_fault():
    p, io, link, _ = make()
    io.held = 1
    t = 0
    while t <= 10100:
        p.step(t)
        if p.outbox.head():
            ack_head(p, link)
        t += 50
    io.held = 0
    for now in range(t, t + 500, 50):
        p.step(now)
        if p.outbox.head():
            ack_head(p, link)
    faults = [body[5:] for k, _, _, body in events(link) if k == m.FAULT]
    assert faults == [bytes((m.FAULT_KEY_STUCK, 0, 1)), bytes((m.FAULT_KEY_STUCK, 0, 0))]


def test_full_outbox_drops_then_reports():
    p, io, link, _ = make()
    p.outbox._cap = 3
    t = 0
    for _ in range(5):
        t = press(p, io, 0, t)
    assert len(p.outbox) == 3
    for _ in range(2):
        ack_head(p, link)
        p.step(t)
        t += 10
    t = press(p, io, 1, t)
    kinds = [e[2] for e in p.outbox.entries]
    assert kinds == [m.PRESS, m.FAULT, m.PRESS]
    assert p.outbox.entries[1][3] == bytes((m.FAULT_OUTBOX_FULL, 2, 1))


def test_retransmission_across_tick_wrap():
    start = PERIOD - 300
    p, io, link, _ = make(now=start)
    t = press(p, io, 0, start)
    for dt in range(0, 2000, 10):
        p.step(ticks_add(t, dt))
    assert len(events(link)) == 3  # first send, +500, +1000


def test_keys_count_matches_config():
    assert padmod.PAUSE_BIT == 5


runner.main(globals())
