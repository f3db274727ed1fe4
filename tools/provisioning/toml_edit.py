"""Edits of the hall config's text that leave every other byte as it was: a device table
appended, one key line rewritten in place; each checked by parsing the result."""

from __future__ import annotations

import copy
import datetime
import re
import tomllib
from typing import Any

from tools.provisioning.device import Device, ProvisionError


def toml_string(value: str) -> str:
    escaped = []
    for ch in value:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def device_table_text(device: Device, newline: str) -> str:
    lines = [
        f"# added by tools/provision on {datetime.date.today().isoformat()}",
        f'[devices."{device.id}"]',
    ]
    for name, value in device.table().items():
        literal = toml_string(value) if isinstance(value, str) else str(value)
        lines.append(f"{name} = {literal}")
    return newline.join(lines) + newline


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def append_device(text: str, device: Device) -> str:
    newline = _newline_of(text)
    if text and not text.endswith("\n"):
        text += newline
    separator = newline if text.strip() else ""
    return text + separator + device_table_text(device, newline)


_HEADER_RE = re.compile(r"^\s*\[[^\[].*\]\s*(#.*)?$")
_KEY_LINE_RE = re.compile(
    r"^(?P<pre>\s*(?:key|\"key\"|'key')\s*=\s*)(?P<q>[\"'])[0-9A-Fa-f]{64}(?P=q)"
)


def _header_path(line: str) -> tuple[str, ...] | None:
    """The table path of a ``[a."b"]`` header line, or None for other lines."""
    if not _HEADER_RE.match(line):
        return None
    try:
        node: Any = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        name, node = next(iter(node.items()))
        path.append(name)
    return tuple(path)


def replace_key(text: str, device_id: str, new_key: str) -> str:
    """Rewrite the ``key = "..."`` line of one device table, leaving every other byte."""
    lines = text.splitlines(keepends=True)
    current: tuple[str, ...] | None = None
    for index, line in enumerate(lines):
        path = _header_path(line)
        if path is not None or line.lstrip().startswith("[["):
            current = path
            continue
        if current == ("devices", device_id):
            match = _KEY_LINE_RE.match(line)
            if match:
                quote = match["q"]
                lines[index] = f"{match['pre']}{quote}{new_key}{quote}{line[match.end():]}"
                return "".join(lines)
    raise ProvisionError(
        f"--rotate-key: found no key = \"<64 hex>\" line under [devices.\"{device_id}\"]; "
        "edit the hall config by hand"
    )


def verify_edit(old_doc: dict[str, Any], new_text: str, device: Device,
                table: dict[str, Any]) -> None:
    """Refuse an edit unless the device's table becomes ``table`` and nothing else moves."""
    expected = copy.deepcopy(old_doc)
    expected.setdefault("devices", {})[device.id] = table
    try:
        parsed = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        raise ProvisionError(
            f"--hall-config: cannot add [devices.\"{device.id}\"] to this file ({exc}); "
            "is devices defined in another style?"
        ) from None
    if parsed != expected:
        raise ProvisionError(
            f"--hall-config: the edit for [devices.\"{device.id}\"] would change other "
            "settings; file left unchanged, edit it by hand"
        )
