"""A generic, identity-preserving JSON form of the agent's state objects (for snapshots).

The walker takes whatever the state holds, with no list of fields to keep up to date: a field
added to the engine (or to one of its dataclasses) is in the next snapshot without a change
here. It keeps object identity (a ticket held both by its counter and by its expiry deadline
comes back as one object, so ``c.ticket is ticket`` still holds), writes bound methods by
name (the engine's deadlines hold them), and keeps only classes of this package, so a
snapshot can never make the loader build anything else.

Shapes: JSON scalars stand for themselves; every other value is a one-tag object:
``{"@r": n}`` a reference to the object numbered n, ``{"@o": "module:Class", "f": {...}}`` an
object, ``{"@l": [...]}`` a list, ``{"@t": [...]}`` a tuple, ``{"@s": {...}}`` a dict with string
keys, ``{"@d": [[k, v], ...]}`` any other dict, ``{"@q": [...]}`` a deque, ``{"@set": [...]}``
/ ``{"@fset": [...]}``, ``{"@m": name, "of": obj}`` a bound method, ``{"@f": "module:name"}``
a function, ``{"@count": n}`` an ``itertools.count``, ``{"@tz": key}`` a time zone,
``{"@date": iso}``, ``{"@given": name}`` an object the loader supplies (the configuration).
An object seen more than once carries ``"id": n`` where it first appears.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import importlib
import itertools
import re
import types
from collections import deque
from typing import Any
from zoneinfo import ZoneInfo

PACKAGE = "edge_agent."
# Attributes that are caches: written as an empty container and rebuilt on demand.
CACHES = frozenset({"_calendars"})
_SCALARS = (str, int, float, bool, type(None))
_COUNT = re.compile(r"count\((-?\d+)\)")


class CodecError(ValueError):
    """A value the snapshot form does not hold, or a snapshot that does not decode."""


def encode(root: Any, given: dict[str, Any]) -> Any:
    """The JSON-able form of ``root``; objects in ``given`` are written by name only."""
    return _Encoder(given).run(root)


def decode(data: Any, given: dict[str, Any]) -> Any:
    return _Decoder(given).value(data)


def _is_leaf(value: Any) -> bool:
    return isinstance(value, _SCALARS)


def _fields(obj: Any) -> dict[str, Any]:
    """An object's state: its dataclass fields, or its instance attributes."""
    cls = type(obj)
    if not cls.__module__.startswith(PACKAGE):
        raise CodecError(f"{cls.__module__}.{cls.__qualname__}: not a class of this package")
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "__dict__"):
        return {k: (type(v)() if k in CACHES else v) for k, v in vars(obj).items()}
    slots = [s for c in cls.__mro__ for s in getattr(c, "__slots__", ())]
    return {s: getattr(obj, s) for s in slots if hasattr(obj, s)}


def _children(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, deque, set, frozenset)):
        return list(value)
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, types.MethodType):
        return [value.__self__]
    if isinstance(value, (types.FunctionType, itertools.count, ZoneInfo, datetime.date,
                          enum.Enum)):
        return []
    return list(_fields(value).values())


class _Encoder:
    def __init__(self, given: dict[str, Any]) -> None:
        self._given = {id(v): k for k, v in given.items()}
        self._seen: dict[int, int] = {}  # id -> times seen
        self._numbers: dict[int, int] = {}  # id -> number, for objects seen twice or more
        self._keep: list[Any] = []  # keeps walked objects alive, so ids stay unique

    def run(self, root: Any) -> Any:
        self._count(root)
        return self._value(root)

    def _count(self, root: Any) -> None:
        stack = [root]
        while stack:
            value = stack.pop()
            if _is_leaf(value) or id(value) in self._given:
                continue
            key = id(value)
            seen = self._seen.get(key, 0)
            self._seen[key] = seen + 1
            if seen:
                continue
            self._keep.append(value)
            stack.extend(_children(value))

    def _value(self, value: Any) -> Any:
        if _is_leaf(value):
            return value
        key = id(value)
        name = self._given.get(key)
        if name is not None:
            return {"@given": name}
        number = self._numbers.get(key)
        if number is not None:
            return {"@r": number}
        if self._seen.get(key, 0) > 1:  # numbered before its contents: they may refer back
            number = self._numbers[key] = len(self._numbers)
        out = self._shape(value)
        if number is not None:
            out["id"] = number
        return out

    def _shape(self, value: Any) -> Any:
        v = self._value
        if isinstance(value, list):
            return {"@l": [v(x) for x in value]}
        if isinstance(value, tuple):
            return {"@t": [v(x) for x in value]}
        if isinstance(value, dict):
            if all(type(k) is str for k in value):
                return {"@s": {k: v(x) for k, x in value.items()}}
            return {"@d": [[v(k), v(x)] for k, x in value.items()]}
        if isinstance(value, deque):
            return {"@q": [v(x) for x in value], "max": value.maxlen}
        if isinstance(value, (set, frozenset)):
            tag = "@set" if isinstance(value, set) else "@fset"
            return {tag: [v(x) for x in value]}
        if isinstance(value, types.MethodType):
            return {"@m": value.__func__.__name__, "of": v(value.__self__)}
        if isinstance(value, types.FunctionType):
            return {"@f": _where(value)}
        if isinstance(value, itertools.count):
            match = _COUNT.fullmatch(repr(value))
            if match is None:
                raise CodecError(f"a counter with a step: {value!r}")
            return {"@count": int(match[1])}
        if isinstance(value, ZoneInfo):
            return {"@tz": value.key}
        if isinstance(value, datetime.datetime):
            raise CodecError("a datetime in the state (times are integer microseconds)")
        if isinstance(value, datetime.date):
            return {"@date": value.isoformat()}
        if isinstance(value, enum.Enum):
            return {"@e": _where(type(value)), "v": v(value.value)}
        return {"@o": _where(type(value)), "f": {k: v(x) for k, x in _fields(value).items()}}


def _where(obj: Any) -> str:
    module, name = obj.__module__, obj.__qualname__
    if not module.startswith(PACKAGE) or "<" in name:
        raise CodecError(f"{module}.{name}: not a named part of this package")
    return f"{module}:{name}"


def _find(where: Any) -> Any:
    if not isinstance(where, str) or not where.startswith(PACKAGE) or ":" not in where:
        raise CodecError(f"not a name in this package: {where!r}")
    module, name = where.split(":", 1)
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise CodecError(f"{where}: not found ({exc})") from None
    return obj


class _Decoder:
    def __init__(self, given: dict[str, Any]) -> None:
        self._given = given
        self._objects: dict[int, Any] = {}

    def value(self, data: Any) -> Any:
        if _is_leaf(data):
            return data
        if not isinstance(data, dict):
            raise CodecError(f"not a snapshot value: {data!r:.80}")
        number = data.get("id")
        try:
            out = self._shape(data, number)
        except CodecError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CodecError(f"a malformed snapshot value ({exc!r}): {data!r:.120}") from None
        if number is not None:
            self._objects[number] = out
        return out

    def _keep(self, number: Any, obj: Any) -> Any:
        if number is not None:  # before its contents: they may refer back to it
            self._objects[number] = obj
        return obj

    def _shape(self, data: dict[str, Any], number: Any) -> Any:
        v = self.value
        if "@r" in data:
            return self._objects[data["@r"]]
        if "@given" in data:
            return self._given[data["@given"]]
        if "@l" in data:
            out: list[Any] = self._keep(number, [])
            out.extend(v(x) for x in data["@l"])
            return out
        if "@t" in data:
            return tuple(v(x) for x in data["@t"])
        if "@s" in data:
            d: dict[Any, Any] = self._keep(number, {})
            d.update((k, v(x)) for k, x in data["@s"].items())
            return d
        if "@d" in data:
            d = self._keep(number, {})
            d.update((v(k), v(x)) for k, x in data["@d"])
            return d
        if "@q" in data:
            q: deque[Any] = self._keep(number, deque(maxlen=data["max"]))
            q.extend(v(x) for x in data["@q"])
            return q
        if "@set" in data:
            s: set[Any] = self._keep(number, set())
            s.update(v(x) for x in data["@set"])
            return s
        if "@fset" in data:
            return frozenset(v(x) for x in data["@fset"])
        if "@m" in data:
            return getattr(v(data["of"]), data["@m"])
        if "@f" in data:
            return _find(data["@f"])
        if "@count" in data:
            return itertools.count(int(data["@count"]))
        if "@tz" in data:
            return ZoneInfo(data["@tz"])
        if "@date" in data:
            return datetime.date.fromisoformat(data["@date"])
        if "@e" in data:
            return _find(data["@e"])(v(data["v"]))
        if "@o" in data:
            return self._object(data, number)
        raise CodecError(f"an unknown snapshot value: {data!r:.80}")

    def _object(self, data: dict[str, Any], number: Any) -> Any:
        cls: Any = _find(data["@o"])
        if not isinstance(cls, type):
            raise CodecError(f"{data['@o']}: not a class")
        obj = self._keep(number, object.__new__(cls))
        fields = data["f"]
        if dataclasses.is_dataclass(cls):
            expected = {f.name for f in dataclasses.fields(cls)}
            if set(fields) != expected:
                raise CodecError(f"{data['@o']}: the snapshot has fields {sorted(fields)}, "
                                 f"the class {sorted(expected)}")
        for name, x in fields.items():
            object.__setattr__(obj, name, self.value(x))
        return obj
