"""Raspberry Pi Pico W: the Pico's pins; the LED hangs off the Wi-Fi chip ("LED"); MQTT over
Wi-Fi."""

from boards.pico import Board as PicoBoard


class Board(PicoBoard):
    LED = "LED"

    def mqtt(self, cfg: dict) -> object:
        from boards.wifi import mqtt_link

        return mqtt_link(cfg, power_save_off=True)
