"""Files replaced whole and durably: a temp file in the same folder, fsync, rename over the
old one, fsync the folder. A reader (the agent, mosquitto, the center) sees the old file or
the new one, never half of one, and a power cut right after leaves one of the two.

Used by provisioning (the hall config and a board's config.json), the broker files and the
center's month archives.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int

    @classmethod
    def of(cls, path: Path) -> Owner:
        st = path.stat()
        return cls(st.st_uid, st.st_gid)


def write_atomic(path: Path, data: bytes, mode: int, owner: Owner | None = None,
                 owner_if_permitted: bool = False) -> None:
    """Replace ``path`` with ``data`` (file mode ``mode``). With ``owner``, the new file gets
    that owner (root does this, e.g. provisioning under sudo, so that the service's user can
    still read it); with ``owner_if_permitted`` a user who may not chown keeps the file as
    its own, as any edit by that user would, instead of failing."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            os.fchmod(tmp.fileno(), mode)
            if owner is not None:
                _chown(tmp.fileno(), owner, owner_if_permitted)
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def replace_durably(done: Path, path: Path) -> None:
    """Move a finished file ``done`` over ``path``: its bytes on disk first, then the rename,
    then the rename itself (the folder)."""
    _fsync(done)
    os.replace(done, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    _fsync(directory)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chown(fd: int, owner: Owner, if_permitted: bool) -> None:
    if not if_permitted:
        os.fchown(fd, owner.uid, owner.gid)
    elif (owner.uid, owner.gid) != (os.getuid(), os.getgid()):
        with contextlib.suppress(PermissionError):
            os.fchown(fd, owner.uid, owner.gid)
