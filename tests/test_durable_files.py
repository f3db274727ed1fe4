"""edge_agent/durable_files.py: a file replaced whole (mode, owner, nothing left behind)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edge_agent.durable_files import Owner, replace_durably, write_atomic


def test_write_atomic_replaces_the_file_with_the_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "hall.toml"
    path.write_text("old")
    write_atomic(path, b"new", 0o640)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hall.toml"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    path = tmp_path / "hall.toml"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes", 0o600)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hall.toml"]


def test_the_owner_is_given_to_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "acl"
    me = Owner(os.getuid(), os.getgid())
    write_atomic(path, b"x", 0o600, me)
    assert Owner.of(path) == me


def test_owner_if_permitted_never_fails_for_want_of_permission(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write_atomic(path, b"{}", 0o600, Owner(os.getuid() + 1, os.getgid() + 1),
                 owner_if_permitted=True)
    assert path.read_bytes() == b"{}"


def test_replace_durably_moves_the_finished_file_over_the_old(tmp_path: Path) -> None:
    done, path = tmp_path / "m.part", tmp_path / "m.sqlite"
    done.write_bytes(b"new")
    path.write_bytes(b"old")
    replace_durably(done, path)
    assert path.read_bytes() == b"new" and not done.exists()
