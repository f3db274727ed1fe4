"""Raspberry Pi Pico (RP2040): pin map of hardware/ (UART0 GP0/GP1, DE/RE GP2, keys GP10..14,
pause GP15, LED GP25, I2C0 GP4/GP5; an SSD1309 on SPI0: SCK GP18, MOSI GP19, CS GP17, DC GP20,
RES GP21)."""

from boards.base import BaseBoard


class Board(BaseBoard):
    UART_ID = 0
    TX = 0
    RX = 1
    DE = 2
    KEYS = (10, 11, 12, 13, 14)
    PAUSE = 15
    LED: int | str = 25
    I2C_ID = 0
    SDA = 4
    SCL = 5
