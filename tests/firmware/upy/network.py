# The unix port has no `network` module: this one stands in for it under firmware/boards/wifi.py
# on the host, a station that is always associated (the host is on the network already).
STA_IF = 0


class WLAN:
    def __init__(self, interface: int) -> None:
        self.interface = interface

    def active(self, on: bool | None = None) -> bool:
        return True

    def config(self, **settings: object) -> None:
        pass

    def isconnected(self) -> bool:
        return True

    def connect(self, ssid: str, password: str) -> None:
        pass

    def disconnect(self) -> None:
        pass
