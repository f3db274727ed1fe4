"""Wi-Fi and the MQTT link, for the Pico W and the ESP32."""

import os

import network
from mqtt_client import MQTTClient
from mqtt_session import MqttSession
from ticks import ticks_ms

KEEPALIVE_S = 30


class Wifi:
    def __init__(self, ssid: str, password: str, power_save_off: bool) -> None:
        self._ssid = ssid
        self._password = password
        self._wlan = network.WLAN(network.STA_IF)
        self._wlan.active(True)
        if power_save_off:
            # The Pico W's power saving drops packets (as mqtt_as notes); a pad is mains-powered.
            self._wlan.config(pm=0xA11140)

    def isconnected(self) -> bool:
        return self._wlan.isconnected()

    def connect(self) -> None:
        """Starts association and returns; the session looks again at its next try."""
        try:
            self._wlan.disconnect()
            self._wlan.connect(self._ssid, self._password)
        except OSError:
            pass


def _random(n: int) -> int:
    return int.from_bytes(os.urandom(2), "big") % n if n > 0 else 0


def mqtt_link(cfg: dict, power_save_off: bool) -> MqttSession:
    wifi_cfg = cfg.get("wifi") or {}
    broker = cfg.get("mqtt") or {}
    user = broker.get("user")
    password = broker.get("password")
    client = MQTTClient(
        cfg["device"].encode(), broker.get("host", "192.168.1.2"), int(broker.get("port", 1883)),
        user.encode() if user else None, password.encode() if password else None, KEEPALIVE_S,
    )
    wifi = Wifi(wifi_cfg.get("ssid", ""), wifi_cfg.get("password", ""), power_save_off)
    return MqttSession(client, wifi, cfg, ticks_ms(), _random)
