"""The keymap and the badge decoder, fed evdev.InputEvent objects as the kernel sends them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from evdev import InputEvent, ecodes
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.rules.model import FIVE_LEVELS
from edge_agent.service.keymap import (
    BADGE_MAX_LEN,
    BADGE_TIMEOUT_US,
    NUMLOCK_OFF_TWIN,
    BadgeDecoder,
    KeyDecoder,
    Press,
    keymap_for,
)

T0 = 1_770_000_000_000_000  # an event time stamp, µs


def event(t_us: int, etype: int, code: int, value: int) -> InputEvent:
    """An input event as python-evdev reads it (its constructor has no type hints)."""
    return InputEvent(t_us // 1_000_000, t_us % 1_000_000, etype, code, value)  # type: ignore[no-untyped-call]


def key(code: int, value: int = 1, t_us: int = T0) -> InputEvent:
    return event(t_us, ecodes.EV_KEY, code, value)


def syn(code: int = ecodes.SYN_REPORT, t_us: int = T0) -> InputEvent:
    return event(t_us, ecodes.EV_SYN, code, 0)


def tap(code: int, t_us: int = T0) -> list[InputEvent]:
    """What the kernel sends for one key pressed and released: scan code, down, syn, up, syn."""
    scan = event(t_us, ecodes.EV_MSC, ecodes.MSC_SCAN, 458840)
    return [scan, key(code, 1, t_us), syn(t_us=t_us), key(code, 0, t_us + 80_000),
            syn(t_us=t_us + 80_000)]


def decode_keys(decoder: KeyDecoder, events: list[InputEvent]) -> list[Press]:
    return [p for ev in events if (p := decoder.feed(ev)) is not None]


# --- keypads ---------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "level"), [(ecodes.KEY_KP1, "satisfied"),
                                             (ecodes.KEY_KP3, "unsatisfied")])
def test_two_key_pad_rates_with_kp1_and_kp3(code: int, level: str) -> None:
    assert decode_keys(KeyDecoder(keymap_for("pad", 2)), tap(code)) == [Press("rate", level)]


def test_two_key_pad_takes_the_key_between_for_nothing_and_counts_it() -> None:
    decoder = KeyDecoder(keymap_for("pad", 2))
    assert decode_keys(decoder, tap(ecodes.KEY_KP2) + tap(ecodes.KEY_A)) == []
    assert decoder.rejections == {"unmapped_key": 2}


def test_five_key_pad_follows_the_protocols_level_order() -> None:
    decoder = KeyDecoder(keymap_for("pad", 5))
    kp = [ecodes.KEY_KP1, ecodes.KEY_KP2, ecodes.KEY_KP3, ecodes.KEY_KP4, ecodes.KEY_KP5]
    presses = decode_keys(decoder, [ev for code in kp for ev in tap(code)])
    assert [p.level for p in presses] == list(FIVE_LEVELS)
    assert {p.action for p in presses} == {"rate"}


@pytest.mark.parametrize(("code", "action"), [
    (ecodes.KEY_KPENTER, "call_next"), (ecodes.KEY_KPPLUS, "invite"),
    (ecodes.KEY_KPMINUS, "cancel_invite"), (ecodes.KEY_KP0, "pause_toggle"),
    (ecodes.KEY_KPASTERISK, "fault"), (ecodes.KEY_KPSLASH, "fault_cleared")])
def test_staff_keypad_actions(code: int, action: str) -> None:
    assert decode_keys(KeyDecoder(keymap_for("keypad")), tap(code)) == [Press(action)]


@pytest.mark.parametrize(("kind", "keys"), [("pad", 2), ("pad", 5), ("keypad", 2)])
def test_numlock_state_does_not_matter(kind: str, keys: int) -> None:
    """A keypad applying NumLock itself sends END for KP1 etc.: the same meaning."""
    keymap = keymap_for(kind, keys)
    twins = {code: NUMLOCK_OFF_TWIN[code] for code in keymap if code in NUMLOCK_OFF_TWIN}
    assert twins, "every default keymap has KP digits"
    for code, twin in twins.items():
        assert decode_keys(KeyDecoder(keymap), tap(twin)) == decode_keys(KeyDecoder(keymap),
                                                                         tap(code))
    decoder = KeyDecoder(keymap)
    assert decode_keys(decoder, tap(ecodes.KEY_NUMLOCK)) == []  # NumLock itself does nothing
    assert decoder.rejections == {"unmapped_key": 1}


def test_only_key_down_acts_a_held_key_is_one_press() -> None:
    decoder = KeyDecoder(keymap_for("keypad"))
    held = [key(ecodes.KEY_KP0, 1)] + [key(ecodes.KEY_KP0, 2)] * 30 + [key(ecodes.KEY_KP0, 0)]
    assert decode_keys(decoder, held) == [Press("pause_toggle")]
    assert decoder.rejections == {}


def test_lost_events_are_counted() -> None:
    decoder = KeyDecoder(keymap_for("pad", 2))
    assert decode_keys(decoder, [syn(ecodes.SYN_DROPPED)]) == []
    assert decoder.rejections == {"events_dropped": 1}


@pytest.mark.parametrize(("kind", "keys"), [("pad", 3), ("badge", 2), ("sign", 2)])
def test_no_keymap_is_a_precise_error(kind: str, keys: int) -> None:
    with pytest.raises(ValueError, match=f"no keymap for a '{kind}' with {keys} keys"):
        keymap_for(kind, keys)


# --- badge readers: examples -----------------------------------------------------------

DIGIT = {str(i): getattr(ecodes, f"KEY_{i}") for i in range(10)}
KP_DIGIT = {str(i): getattr(ecodes, f"KEY_KP{i}") for i in range(10)}
LETTER = {c: getattr(ecodes, f"KEY_{c}") for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
GAP_US = 8_000  # a reader types a key every few ms


def typed(text: str, t_us: int = T0, enter: int | None = ecodes.KEY_ENTER,
          keypad: bool = False) -> list[InputEvent]:
    """What a reader sends for `text`: upper-case letters with Shift, then Enter."""
    out: list[InputEvent] = []
    for i, ch in enumerate(text):
        t = t_us + i * GAP_US
        if ch.isupper():
            out += [key(ecodes.KEY_LEFTSHIFT, 1, t), *tap(LETTER[ch], t),
                    key(ecodes.KEY_LEFTSHIFT, 0, t + 90_000)]
        elif ch.isalpha():
            out += tap(LETTER[ch.upper()], t)
        else:
            out += tap((KP_DIGIT if keypad else DIGIT)[ch], t)
    if enter is not None:
        out += tap(enter, t_us + len(text) * GAP_US)
    return out


def decode(decoder: BadgeDecoder, events: list[InputEvent]) -> list[str]:
    return [c.text for ev in events if (c := decoder.feed(ev)) is not None]


def test_a_card_typed_then_enter_is_read() -> None:
    d = BadgeDecoder()
    assert decode(d, typed("0012345678")) == ["0012345678"]
    assert decode(d, typed("0012345678", keypad=True, enter=ecodes.KEY_KPENTER)) == [
        "0012345678"]
    assert d.rejections == {}


def test_shift_gives_upper_case_letters() -> None:
    assert decode(BadgeDecoder(), typed("04A1b2C3")) == ["04A1b2C3"]


def test_shift_with_a_top_row_digit_is_a_symbol_and_spoils_the_card() -> None:
    d = BadgeDecoder()
    shifted_one = [key(ecodes.KEY_RIGHTSHIFT, 1), *tap(ecodes.KEY_1), key(ecodes.KEY_RIGHTSHIFT, 0)]
    events = typed("12", enter=None) + shifted_one + typed("34", T0 + 50_000)
    assert decode(d, events) == []
    assert d.rejections == {"bad_key": 1}
    assert decode(d, typed("77", T0 + 100_000)) == ["77"]


def test_a_key_that_is_no_digit_or_letter_spoils_the_whole_card_never_half() -> None:
    d = BadgeDecoder()
    events = typed("12", enter=None) + tap(ecodes.KEY_SPACE, T0 + 20_000) + typed("34", T0 + 40_000)
    assert decode(d, events) == []
    assert d.rejections == {"bad_key": 1}


def test_half_typed_card_times_out_after_a_second_of_silence() -> None:
    d = BadgeDecoder()
    late = T0 + 2 * GAP_US + BADGE_TIMEOUT_US + 1
    assert decode(d, typed("12", enter=None) + typed("999", late)) == ["999"]
    assert d.rejections == {"incomplete": 1}


def test_a_second_of_silence_exactly_is_not_yet_a_timeout() -> None:
    d = BadgeDecoder()
    events = [*tap(DIGIT["1"], T0), *tap(DIGIT["2"], T0 + BADGE_TIMEOUT_US),
              *tap(ecodes.KEY_ENTER, T0 + 2 * BADGE_TIMEOUT_US)]
    assert decode(d, events) == ["12"]


def test_key_ups_and_repeats_do_not_keep_a_half_card_alive() -> None:
    d = BadgeDecoder()
    noise = [key(DIGIT["1"], value, T0 + i * 300_000) for i, value in ((1, 2), (2, 0), (3, 2))]
    events = [*tap(DIGIT["1"], T0), *noise, *tap(ecodes.KEY_ENTER, T0 + BADGE_TIMEOUT_US + 1)]
    assert decode(d, events) == []
    assert d.rejections == {"incomplete": 1, "empty": 1}


def test_a_card_longer_than_the_cap_is_dropped_whole() -> None:
    d = BadgeDecoder()
    assert decode(d, typed("1" * BADGE_MAX_LEN)) == ["1" * BADGE_MAX_LEN]
    assert decode(d, typed("1" * (BADGE_MAX_LEN + 1), T0 + 10_000_000)) == []
    assert d.rejections == {"too_long": 1}


def test_enter_alone_is_counted() -> None:
    d = BadgeDecoder()
    assert decode(d, tap(ecodes.KEY_KPENTER)) == []
    assert d.rejections == {"empty": 1}


def test_lost_events_spoil_the_card_being_typed() -> None:
    d = BadgeDecoder()
    events = [*typed("12", enter=None), syn(ecodes.SYN_DROPPED, T0 + 20_000),
              *typed("34", T0 + 30_000)]
    assert decode(d, events) == []
    assert d.rejections == {"events_dropped": 1}


def test_lost_events_may_hide_the_release_of_shift() -> None:
    d = BadgeDecoder()
    events = [key(ecodes.KEY_LEFTSHIFT, 1), syn(ecodes.SYN_DROPPED), *tap(ecodes.KEY_ENTER)]
    assert decode(d, [*events, *typed("ab", T0 + 10_000)]) == ["ab"]


def test_reset_counts_a_half_typed_card_and_forgets_shift() -> None:
    d = BadgeDecoder()
    decode(d, [*typed("12", enter=None), key(ecodes.KEY_LEFTSHIFT, 1)])
    d.reset()
    assert d.rejections == {"incomplete": 1}
    assert decode(d, typed("ab", T0 + 50_000)) == ["ab"]
    d.reset()
    assert d.rejections == {"incomplete": 1}


def test_time_going_backwards_is_no_timeout() -> None:
    d = BadgeDecoder()
    assert decode(d, typed("12", enter=None) + typed("3", T0 - 5_000_000)) == ["123"]


# --- badge readers: any interleaving of garbage and cards ------------------------------

Raw = tuple[int, int, int, int]  # (time offset µs, type, code, value)


@dataclass(frozen=True)
class Segment:
    """One attempt at the reader: a complete card (`text`) or garbage (`why`: its rejection)."""

    events: list[Raw]
    ended: bool  # with Enter; if not, the silence after it must time it out
    text: str | None = None
    why: str | None = None


CARD_CHARS = st.text(alphabet="0123456789abcdefABCDEFxyzXYZ", min_size=1, max_size=BADGE_MAX_LEN)
# Events that are no key press: releases, repeats, scan codes, reports, LEDs (Shift excluded).
NOISE = st.lists(st.sampled_from([
    (ecodes.EV_KEY, ecodes.KEY_5, 0), (ecodes.EV_KEY, ecodes.KEY_A, 2),
    (ecodes.EV_KEY, ecodes.KEY_ENTER, 0), (ecodes.EV_KEY, ecodes.KEY_SPACE, 2),
    (ecodes.EV_MSC, ecodes.MSC_SCAN, 458792), (ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
    (ecodes.EV_LED, ecodes.LED_NUML, 1)]), max_size=3)


@st.composite
def keys_of(draw: st.DrawFn, text: str) -> list[Raw]:
    """`text` typed key by key, gaps at most the timeout, noise in between."""
    out: list[Raw] = []
    t = 0
    for ch in text:
        t += draw(st.integers(0, BADGE_TIMEOUT_US))
        out += [(t, *n) for n in draw(NOISE)]
        if ch.isupper():
            out += [(t, ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 1), (t, ecodes.EV_KEY, LETTER[ch], 1),
                    (t, ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 0)]
        elif ch.isalpha():
            out.append((t, ecodes.EV_KEY, LETTER[ch.upper()], 1))
        else:
            table = KP_DIGIT if draw(st.booleans()) else DIGIT
            out.append((t, ecodes.EV_KEY, table[ch], 1))
    return out


def with_enter(draw: st.DrawFn, events: list[Raw]) -> list[Raw]:
    enter = draw(st.sampled_from([ecodes.KEY_ENTER, ecodes.KEY_KPENTER]))
    return [*events, (events[-1][0] + draw(st.integers(0, BADGE_TIMEOUT_US)), ecodes.EV_KEY,
                      enter, 1)]


@st.composite
def segments(draw: st.DrawFn) -> Segment:
    kind = draw(st.sampled_from(["card", "partial", "bad_key", "too_long", "dropped", "empty"]))
    text = draw(CARD_CHARS)
    if kind == "card":
        return Segment(with_enter(draw, draw(keys_of(text))), True, text=text)
    if kind == "partial":
        return Segment(draw(keys_of(text)), False, why="incomplete")
    if kind == "empty":
        return Segment([(0, ecodes.EV_KEY, ecodes.KEY_ENTER, 1)], True, why="empty")
    if kind == "too_long":
        extra = BADGE_MAX_LEN + 1 - len(text)
        text += draw(st.text(alphabet="0123456789", min_size=extra, max_size=extra + 8))
        return Segment(with_enter(draw, draw(keys_of(text))), True, why="too_long")
    # A card spoiled somewhere by a key that is no digit or letter, or by lost events.
    spoiler = ((ecodes.EV_KEY, draw(st.sampled_from([ecodes.KEY_SPACE, ecodes.KEY_MINUS,
                                                     ecodes.KEY_LEFTCTRL, ecodes.KEY_F1])), 1)
               if kind == "bad_key" else (ecodes.EV_SYN, ecodes.SYN_DROPPED, 0))
    events = draw(keys_of(text))
    at = draw(st.integers(0, len(events)))
    events.insert(at, (events[at - 1][0] if at else 0, *spoiler))
    ended = draw(st.booleans())
    return Segment(with_enter(draw, events) if ended else events, ended,
                   why="bad_key" if kind == "bad_key" else "events_dropped")


def stream(segs: list[Segment], data: st.DataObject) -> list[InputEvent]:
    events: list[InputEvent] = []
    t = T0
    for seg in segs:
        events += [event(t + dt, etype, code, value) for dt, etype, code, value in seg.events]
        least = 0 if seg.ended else BADGE_TIMEOUT_US + 1
        t += seg.events[-1][0] + data.draw(st.integers(least, 5 * BADGE_TIMEOUT_US))
    return events


@settings(max_examples=150, deadline=None)
@given(st.lists(segments(), max_size=12), st.data())
def test_any_interleaving_yields_exactly_the_complete_cards(
        segs: list[Segment], data: st.DataObject) -> None:
    d = BadgeDecoder()
    cards = decode(d, stream(segs, data))
    d.reset()  # the device goes away: a last attempt without Enter is counted too
    assert cards == [s.text for s in segs if s.text is not None]
    whys = [s.why for s in segs if s.why is not None]
    assert d.rejections == {w: whys.count(w) for w in whys}
