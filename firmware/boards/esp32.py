"""ESP32: UART2 TX GPIO17 / RX GPIO16, DE/RE GPIO4; keys GPIO32, 33, 25, 26, 27; pause GPIO14;
LED GPIO2; I2C SDA GPIO21 / SCL GPIO22 (or SPI2 SCK GPIO18, MOSI GPIO23, CS GPIO5, DC GPIO13,
RES GPIO15 for an SSD1309); MQTT over Wi-Fi."""

from boards.base import BaseBoard


class Board(BaseBoard):
    UART_ID = 2
    TX = 17
    RX = 16
    DE = 4
    KEYS = (32, 33, 25, 26, 27)
    PAUSE = 14
    LED = 2
    I2C_ID = 0
    SDA = 21
    SCL = 22
    SPI_ID = 2  # VSPI; its default MISO (GPIO19) stays unconnected
    SCK = 18
    MOSI = 23
    CS = 5
    DC = 13
    RES = 15

    def mqtt(self, cfg: dict) -> object:
        from boards.wifi import mqtt_link

        return mqtt_link(cfg, power_save_off=False)
