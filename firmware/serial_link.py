"""A pad link over a serial byte stream (USB-CDC, UART, RS-485): COBS frames ending in 0x00."""

import frame

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ports import Stream


class SerialLink:
    def __init__(self, stream: "Stream", polled: bool) -> None:
        self._stream = stream
        self._reader = frame.Reader()
        self.polled = polled

    def step(self, now: int) -> None:
        pass  # a serial line needs no upkeep

    def send(self, raw: bytes) -> None:
        self._stream.write(frame.wire(raw))

    def recv(self) -> list[bytes]:
        data = self._stream.read_ready()
        return self._reader.feed(data) if data else []
