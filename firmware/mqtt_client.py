"""A small MQTT 3.1.1 client in the manner of micropython-lib's umqtt.simple, changed where a
pad needs it: it never blocks waiting for a reply (connect() only starts the TCP connection,
connack() is polled until the broker answers, so a broker that is down or hung cannot stall
the pad's key scan), it records when anything last came from the broker (so a dead
connection is noticed by missing PINGRESPs, as mqtt_as does), and it hands PUBLISH messages
to a callback. QoS 0 and 1 only."""

import errno
import select
import socket
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

SOCKET_TIMEOUT_S = 5


class MQTTException(Exception):
    pass


def _string(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


class MQTTClient:
    def __init__(
        self,
        client_id: bytes,
        server: str,
        port: int = 1883,
        user: bytes | None = None,
        password: bytes | None = None,
        keepalive: int = 30,
    ) -> None:
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.sock: socket.socket | None = None
        self.pid = 0
        self.cb: Callable[[bytes, bytes], None] | None = None
        self.lw: tuple[bytes, bytes, bool, int] | None = None
        self.rx_count = 0  # bumped on every packet from the broker
        self._connect_packet: bytes | None = None  # CONNECT, sent once TCP is up
        self._poll: select.poll | None = None

    def set_callback(self, f: "Callable[[bytes, bytes], None]") -> None:
        self.cb = f

    def set_last_will(self, topic: bytes, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        self.lw = (topic, msg, retain, qos)

    def _send(self, data: bytes) -> None:
        if self.sock is None:
            raise OSError("not connected")
        self.sock.write(data)  # type: ignore[attr-defined]

    def _read(self, n: int) -> bytes:
        if self.sock is None:
            raise OSError("not connected")
        data = self.sock.read(n)  # type: ignore[attr-defined]
        if not data or len(data) != n:
            raise OSError("connection closed")
        return data

    def connect(self, clean_session: bool = False) -> None:
        """Starts the TCP connection and returns at once; then call connack() until it
        answers. Raises OSError when the connection fails at once (e.g. refused)."""
        self.close()
        addr = socket.getaddrinfo(self.server, self.port)[0][-1]
        self.sock = socket.socket()
        self.sock.setblocking(False)
        try:
            self.sock.connect(addr)
        except OSError as e:
            if e.args[0] not in (errno.EINPROGRESS, errno.EAGAIN):
                raise
        self._poll = select.poll()
        self._poll.register(self.sock, select.POLLOUT)
        flags = 0x02 if clean_session else 0
        body = _string(self.client_id)
        if self.lw is not None:
            topic, msg, retain, qos = self.lw
            flags |= 0x04 | (qos & 3) << 3 | (0x20 if retain else 0)
            body += _string(topic) + _string(msg)
        if self.user is not None:
            flags |= 0x80
            body += _string(self.user)
            if self.password is not None:
                flags |= 0x40
                body += _string(self.password)
        variable = _string(b"MQTT") + bytes((4, flags)) + struct.pack("!H", self.keepalive)
        packet = variable + body
        self._connect_packet = b"\x10" + _length(len(packet)) + packet

    def connack(self) -> bool | None:
        """None while the TCP connection or the broker's CONNACK is still to come; then True
        when the broker kept this client's session (its subscriptions), False when not.
        Raises OSError when the connection failed, MQTTException when the broker refused."""
        if self.sock is None:
            raise OSError("not connected")
        if self._connect_packet is not None:
            if self._poll is None or not self._poll.poll(0):
                return None  # TCP handshake still under way
            self._poll = None
            self.sock.settimeout(SOCKET_TIMEOUT_S)
            packet = self._connect_packet
            self._connect_packet = None
            self._send(packet)  # raises here if the TCP connection failed
        first = self._read_ready()
        if first is None:
            return None
        resp = first + self._read(3)
        if resp[0] != 0x20 or resp[1] != 0x02 or resp[3] != 0:
            raise MQTTException("connect refused", resp[3])
        self.rx_count += 1
        return bool(resp[2] & 1)

    def _read_ready(self) -> bytes | None:
        """The next byte if one has arrived, None if none has; never waits."""
        if self.sock is None:
            raise OSError("not connected")
        self.sock.setblocking(False)
        try:
            first = self.sock.read(1)  # type: ignore[attr-defined]
        except OSError as e:
            # Nothing waiting reads as None on most ports, as EAGAIN on some; anything else
            # (ECONNRESET...) is a dead connection, not an empty one.
            if e.args[0] not in (errno.EAGAIN, errno.ETIMEDOUT):
                raise
            first = None
        finally:
            self.sock.settimeout(SOCKET_TIMEOUT_S)
        if first == b"":
            raise OSError("connection closed")
        return first

    def disconnect(self) -> None:
        if self.sock is None:
            return
        try:  # noqa: SIM105 (MicroPython has no contextlib)
            self._send(b"\xe0\x00")
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        self._connect_packet = None
        self._poll = None
        if self.sock is not None:
            try:  # noqa: SIM105
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def ping(self) -> None:
        self._send(b"\xc0\x00")

    def _next_pid(self) -> int:
        self.pid = self.pid % 0xFFFF + 1
        return self.pid

    def publish(self, topic: bytes, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        """Sends and returns: the PUBACK of QoS 1 is read by check_msg. Delivery that matters
        is confirmed by the agent's own ack message, not by the broker."""
        head = 0x30 | qos << 1 | (1 if retain else 0)
        packet = _string(topic)
        if qos:
            packet += struct.pack("!H", self._next_pid())
        packet += msg
        self._send(bytes((head,)) + _length(len(packet)) + packet)

    def subscribe(self, topic: bytes, qos: int = 0) -> None:
        packet = struct.pack("!H", self._next_pid()) + _string(topic) + bytes((qos,))
        self._send(b"\x82" + _length(len(packet)) + packet)

    def check_msg(self) -> None:
        """Handle every packet already waiting; return at once when none is."""
        while True:
            first = self._read_ready()
            if first is None:
                return
            self._packet(first[0])

    def _packet(self, op: int) -> None:
        size = 0
        shift = 0
        while True:
            byte = self._read(1)[0]
            size |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
        data = self._read(size) if size else b""
        self.rx_count += 1
        if op & 0xF0 != 0x30:
            return  # PINGRESP, PUBACK, SUBACK: their arrival is all that matters here
        topic_len = struct.unpack("!H", data[:2])[0]
        topic = data[2 : 2 + topic_len]
        rest = data[2 + topic_len :]
        if op & 6:
            pid = rest[:2]
            rest = rest[2:]
            self._send(b"\x40\x02" + pid)
        if self.cb is not None:
            self.cb(topic, rest)
