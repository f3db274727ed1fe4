# A Wi-Fi board for the MicroPython unix port: the link is firmware/boards/wifi.py's MQTT link,
# its socket the port's real socket, its Wi-Fi the always-associated stand-in of network.py;
# keys and stop work as on unix_board (a control file). Usage: micropython -m mqtt_board FS_DIR
# CONTROL_FILE (the broker's host and port come from config.json's "mqtt", as on a board).
import sys

import app
from fs import Fs
from unix_board import UnixBoard
from wifi import mqtt_link  # firmware/boards/wifi.py: the .mpy files sit in one folder


class MqttBoard(UnixBoard):
    def __init__(self, control: str) -> None:
        super().__init__("", control)

    def link(self, cfg: dict) -> object:
        return mqtt_link(cfg, power_save_off=False)


def main() -> None:
    root, control = sys.argv[1], sys.argv[2]
    print("ready")
    app.run(MqttBoard(control), Fs(root))
    print("stopped")


main()
