"""Typed reading of TOML tables, shared by the hall file (config.py, service_config.py) and the
center's file (server_stub/config.py).

Each helper checks one thing and raises :class:`ConfigError` naming the section and key, so
every configuration file reports a bad value the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, TypeVar

from edge_agent.rules.vocabulary import UnknownWord, Word, parse

W = TypeVar("W", bound=Word)
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and key."""


def check_keys(raw: dict[str, Any], where: str, allowed: set[str]) -> None:
    """Refuse a key (a section, when ``where`` is "") that is not in ``allowed``."""
    for key in raw:
        if key not in allowed:
            place = f"[{where}] " if where else ""
            hint = f" (known: {', '.join(sorted(allowed))})"
            kind = "key" if where else "section"
            raise ConfigError(f"{place}{key}: unknown {kind}{hint}")


def section(
    raw: dict[str, Any], key: str, *, required: bool = False, where: str = ""
) -> dict[str, Any]:
    """The table ``raw[key]``; an empty one when it is absent and not required."""
    name = f"{where}.{key}" if where else key
    if key not in raw:
        if required:
            raise ConfigError(f"[{name}]: missing section")
        return {}
    return as_table(raw[key], name)


def as_table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}]: must be a table")
    return value


def typed_value(raw: dict[str, Any], where: str, key: str, kind: type, default: Any) -> Any:
    """``raw[key]`` checked to be a ``kind`` (an int is taken as a float), or ``default``."""
    if key not in raw:
        return default
    value = raw[key]
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
        raise ConfigError(f"[{where}] {key}: must be {names.get(kind, kind.__name__)}, "
                          f"got {value!r}")
    return value


def choice(t: dict[str, Any], where: str, key: str, words: type[W], default: W) -> W:
    """One of the hall's words (rules/vocabulary.py), as its member."""
    value: str = typed_value(t, where, key, str, default)
    try:
        return parse(words, value)
    except UnknownWord:
        raise ConfigError(f"[{where}] {key}: must be one of {', '.join(words)}, "
                          f"got {value!r}") from None


def id_value(value: Any, name: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ConfigError(f"{name}: must be 1-32 letters, digits, '-' or '_', got {value!r}")
    return value


def id_tables(raw: dict[str, Any], section: str, keys: set[str]
              ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(id, where, table) of each [section.ID] table, id and keys checked."""
    for item_id, sub in raw.items():
        where = f"{section}.{item_id}"
        id_value(item_id, f"[{where}]")
        table = as_table(sub, where)
        check_keys(table, where, keys)
        yield item_id, where, table
