"""What the pad shows: the screen the agent last commanded, with a few local rules.

The board draws it: on an SSD1306 the screen's caption and the text, on a bare LED the
screen's blink pattern.
"""

from messages import CLOSED, INVITE, PAUSED, THANKS, WELCOME
from ticks import ticks_diff

THANKS_MS = 3000
PRESS_FLASH_MS = 150

# LED pattern per screen: (period ms, on ms); on for the whole period means steady.
LED = {
    CLOSED: (1000, 0),
    WELCOME: (1000, 1000),
    INVITE: (500, 250),
    THANKS: (1000, 1000),
    PAUSED: (2000, 200),
}


class Display:
    def __init__(self, now: int) -> None:
        self.screen = CLOSED
        self.text = ""
        self._since = now
        self._flash_at = -1

    def command(self, now: int, screen: int, text: str) -> None:
        self.screen = screen
        self.text = text
        self._since = now

    def pressed(self, now: int) -> None:
        """A key went down: blink the LED off so the citizen sees the press was felt."""
        self._flash_at = now

    def current(self, now: int) -> tuple[int, str]:
        """(screen, text) to show now. Thanks falls back to welcome on its own, so the
        agent needs no timer for it."""
        if self.screen == THANKS and ticks_diff(now, self._since) >= THANKS_MS:
            self.screen = WELCOME
            self.text = ""
            self._since = now
        return self.screen, self.text

    def led(self, now: int) -> bool:
        if self._flash_at >= 0:
            if ticks_diff(now, self._flash_at) < PRESS_FLASH_MS:
                return False
            self._flash_at = -1
        screen, _ = self.current(now)
        period, on = LED[screen]
        return ticks_diff(now, self._since) % period < on
