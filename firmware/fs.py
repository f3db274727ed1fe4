"""A tiny file-system adapter: whole-file reads and atomic replaces under one folder.

On the boards the folder is "" (the littlefs root); tests pass a temporary folder.
"""

import os


class Fs:
    def __init__(self, root: str = "") -> None:
        self._root = root

    def path(self, name: str) -> str:
        return self._root + "/" + name if self._root else name

    def read(self, name: str) -> str | None:
        try:
            with open(self.path(name)) as f:
                return f.read()
        except OSError:
            return None

    def replace(self, name: str, data: str) -> None:
        """Write to a temporary file, close it, then rename it over `name`: a power cut
        leaves either the old or the new content, never a half-written file."""
        tmp = self.path(name + ".tmp")
        with open(tmp, "w") as f:
            f.write(data)
        os.rename(tmp, self.path(name))

    def remove(self, name: str) -> None:
        try:  # noqa: SIM105 (MicroPython has no contextlib)
            os.remove(self.path(name))
        except OSError:
            pass
