# The MQTT outage logic with a fake broker client and a fake Wi-Fi.
import fakes
import messages as m
import runner
from mqtt_session import BACKOFF_MAX_MS, CONNECT_TIMEOUT_MS, MqttSession, topics
from pad import Pad

UP, DOWN, STATUS = topics(fakes.CFG)


class Wifi:
    def __init__(self):
        self.up = True
        self.connects = 0

    def isconnected(self):
        return self.up

    def connect(self):
        self.connects += 1


class Client:
    """Records what a session does; `broker` False makes every call fail like a dead socket."""

    def __init__(self):
        self.keepalive = 20
        self.broker = True
        self.answers_pings = True
        self.answers_connect = True  # False: TCP up but no CONNACK, a hung broker
        self.rx_count = 0
        self.log = []
        self.published = []
        self.cb = None
        self.will = None
        self.pending = []

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.will = (topic, msg, retain, qos)

    def _io(self, what):
        self.log.append(what)
        if not self.broker:
            raise OSError(113)

    def connect(self, clean_session=True):
        self._io(("connect", clean_session))

    def connack(self):  # not logged: it is called every step until the broker answers
        if not self.broker:
            raise OSError(113)
        if not self.answers_connect:
            return None
        self.rx_count += 1
        return False

    def subscribe(self, topic, qos=0):
        self._io(("subscribe", topic, qos))

    def publish(self, topic, msg, retain=False, qos=0):
        self._io(("publish", topic))
        self.published.append((topic, msg, retain, qos))

    def ping(self):
        self._io(("ping",))
        if self.answers_pings:
            self.rx_count += 1

    def check_msg(self):
        if not self.broker:  # not logged: it is called every loop
            raise OSError(113)
        for topic, msg in self.pending:
            self.rx_count += 1
            self.cb(topic, msg)
        self.pending = []

    def close(self):
        self.log.append(("close",))


def no_jitter(n):
    return 0


def test_connects_with_persistent_session_will_and_online_status():
    c, w = Client(), Wifi()
    s = MqttSession(c, w, fakes.CFG, 0, no_jitter)
    s.step(0)
    assert s.connected
    assert c.will == (STATUS, b"offline", True, 1)
    assert c.log[:2] == [("connect", False), ("subscribe", DOWN, 1)]
    assert c.published == [(STATUS, b"online", True, 1)]
    assert UP == b"hall/qingpu/A01/A01-pad/up"


def test_broker_down_retries_with_exponential_backoff_capped():
    c, w = Client(), Wifi()
    c.broker = False
    s = MqttSession(c, w, fakes.CFG, 0, no_jitter)
    tries = []
    for t in range(0, 400000, 100):
        before = len(c.log)
        s.step(t)
        if len(c.log) > before and c.log[before] == ("connect", False):
            tries.append(t)
    gaps = [tries[i + 1] - tries[i] for i in range(len(tries) - 1)]
    assert gaps[:7] == [1000, 2000, 4000, 8000, 16000, 32000, 60000], gaps
    assert max(gaps) == BACKOFF_MAX_MS


def test_jitter_spreads_reconnects():
    c, w = Client(), Wifi()
    c.broker = False
    s = MqttSession(c, w, fakes.CFG, 0, lambda n: n - 1)
    s.step(0)
    s.step(1000)
    assert not [e for e in c.log[1:] if e[0] == "connect"]
    s.step(1500)
    assert [e for e in c.log if e[0] == "connect"] == [("connect", False)] * 2


def test_wifi_down_starts_wifi_before_the_broker():
    c, w = Client(), Wifi()
    w.up = False
    s = MqttSession(c, w, fakes.CFG, 0, no_jitter)
    s.step(0)
    assert w.connects == 1 and c.log == []
    w.up = True
    s.step(1000)
    assert s.connected


def test_pings_every_quarter_keepalive_and_drops_a_silent_broker():
    c, w = Client(), Wifi()
    s = MqttSession(c, w, fakes.CFG, 0, no_jitter)
    s.step(0)
    for t in range(0, 20001, 100):
        s.step(t)
    pings = [e for e in c.log if e == ("ping",)]
    assert len(pings) == 4 and s.connected
    c.answers_pings = False
    for t in range(20100, 45000, 100):
        s.step(t)
        if not s.connected:
            break
    assert not s.connected
    assert 39000 <= t <= 41000, t


def test_a_hung_broker_is_waited_for_step_by_step_then_given_up():
    c, w = Client(), Wifi()
    c.answers_connect = False
    s = MqttSession(c, w, fakes.CFG, 0, no_jitter)
    t = 0
    while t < CONNECT_TIMEOUT_MS:
        s.step(t)
        assert s.connecting and not s.connected
        t += 100
    s.step(t)
    assert not s.connecting and c.log == [("connect", False), ("close",)]
    c.answers_connect = True
    s.step(t + 999)
    assert c.log[-1] == ("close",)
    s.step(t + 1000)  # the first back-off
    assert s.connected and c.log[-2:] == [("subscribe", DOWN, 1), ("publish", STATUS)]


def test_wifi_loss_drops_the_session():
    c, w = Client(), Wifi()
    s = MqttSession(c, w, fakes.CFG, 0, no_jitter)
    s.step(0)
    w.up = False
    s.step(100)
    assert not s.connected and c.log[-1] == ("close",)


def test_pad_republishes_the_same_seq_until_the_agent_acks_across_an_outage():
    c, w = Client(), Wifi()
    io = fakes.Io()
    s = MqttSession(c, w, fakes.CFG, 0, no_jitter)
    p = Pad(fakes.CFG, io, s, fakes.fresh_fs(), 1, 0)
    s.step(0)
    c.broker = False  # the broker goes away just before the press
    io.held = 1
    t = 0
    while t < 100:
        s.step(t)
        p.step(t)
        t += 10
    io.held = 0
    while t < 30000:
        if t == 10000:
            c.broker = True
        s.step(t)
        p.step(t)
        t += 10
    ups = [fakes.up(msg) for topic, msg, _, _ in c.published if topic == UP]
    presses = [(k, b, s_) for k, b, s_, _ in ups if k == m.PRESS]
    assert len(presses) >= 2 and len(set(presses)) == 1
    assert len(p.outbox) == 1  # the broker's PUBACKs do not count: only the agent's ack
    head = p.outbox.head()
    c.pending = [(DOWN, fakes.ack(head[1], head[0]))]
    s.step(t)
    p.step(t)
    assert len(p.outbox) == 0
    assert s.connects == 2


runner.main(globals())
