"""The console's accounts: who may log in, with which role, for which halls.

Accounts live in the center's Redis (``center:{center}:users``, a hash name -> JSON), next to
the halls' data. Passwords are kept as scrypt hashes (``hashlib.scrypt``: memory-hard, in the
standard library, so no new dependency); each hash carries its own parameters and salt:
``scrypt$N$r$p$<salt hex>$<hash hex>``. Five failed logins for one name (known or not) lock
that name for 15 minutes (``center:{center}:fails:NAME`` counts, ``...:locked:NAME`` holds
the lock; both expire by themselves).

Roles (docs/center.md): ``manager`` and ``it`` of one or more halls, ``staff`` of one hall
with one staff id, ``viewer`` of every hall.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from server_stub.store import center_key

ROLES = ("manager", "it", "staff", "viewer")
MAX_FAILURES = 5
LOCK_S = 15 * 60
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


@dataclass(frozen=True, slots=True)
class Kdf:
    """scrypt's cost: OWASP's N=2^15, r=8, p=3 (32 MiB of memory per hash) by default."""

    n: int = 1 << 15
    r: int = 8
    p: int = 3

    def hash(self, password: str, salt: bytes) -> bytes:
        return hashlib.scrypt(password.encode(), salt=salt, n=self.n, r=self.r, p=self.p,
                              maxmem=256 * self.n * self.r + (1 << 20), dklen=32)

    def encode(self, password: str) -> str:
        salt = secrets.token_bytes(16)
        return f"scrypt${self.n}${self.r}${self.p}${salt.hex()}${self.hash(password, salt).hex()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        name, n, r, p, salt, digest = encoded.split("$")
        kdf = Kdf(int(n), int(r), int(p))
        wanted = bytes.fromhex(digest)
        got = kdf.hash(password, bytes.fromhex(salt))
    except ValueError:
        return False
    return name == "scrypt" and hmac.compare_digest(got, wanted)


class AccountError(ValueError):
    """A user command or login refused, with the reason to show."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    halls: tuple[str, ...] = ()
    staff: str | None = None
    disabled: bool = False
    # Raised by a new password or by disabling: sessions made before are no longer valid.
    generation: int = 0
    password: str = field(default="", repr=False)

    def may_see(self, hall: str) -> bool:
        return self.role == "viewer" or hall in self.halls

    def public(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("password")
        doc["halls"] = list(self.halls)
        return doc


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AccountError(f"user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', "
                           "starting with a letter or digit")
    return name


def check_new_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} "
                           f"characters, got {len(password)}")
    return password


def check_grant(role: str, halls: list[str], staff: str | None, known_halls: set[str]) -> None:
    """The role's halls and staff id make sense, and every hall is configured."""
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    unknown = [h for h in halls if h not in known_halls]
    if unknown:
        raise AccountError(f"--hall {unknown[0]!r}: not a hall of this center "
                           f"({', '.join(sorted(known_halls)) or 'none configured'})")
    if role == "viewer" and halls:
        raise AccountError("a viewer sees every hall: give no --hall")
    if role in ("manager", "it", "staff") and not halls:
        raise AccountError(f"a {role} account needs --hall (one or more)")
    if role == "staff" and (len(halls) != 1 or not staff):
        raise AccountError("a staff account needs exactly one --hall and its --staff ID")
    if role != "staff" and staff:
        raise AccountError("--staff is only for a staff account")


class Accounts:
    def __init__(self, client: redis.Redis, kdf: Kdf | None = None) -> None:
        self.redis: Any = client
        self.kdf = kdf or Kdf()

    @functools.cached_property
    def _decoy(self) -> str:
        """Checked against for an unknown name, so it costs the same time as a known one
        (made at the first login, so a center that starts pays nothing)."""
        return self.kdf.encode(secrets.token_hex(16))

    # --- the user commands --------------------------------------------------------------

    def add(self, name: str, role: str, halls: list[str], staff: str | None, password: str,
            known_halls: set[str]) -> User:
        check_name(name)
        check_grant(role, halls, staff, known_halls)
        user = User(name, role, tuple(dict.fromkeys(halls)), staff or None,
                    password=self.kdf.encode(check_new_password(password)))
        if not self.redis.hsetnx(center_key("users"), name, _encode(user)):
            raise AccountError(f"user {name!r} exists already (user passwd changes a "
                               "password)")
        return user

    def passwd(self, name: str, password: str) -> User:
        user = self.require(name)
        new = _replace(user, password=self.kdf.encode(check_new_password(password)),
                       generation=user.generation + 1)
        self._save(new)
        self.redis.delete(_locked_key(name), _fails_key(name))
        return new

    def disable(self, name: str) -> User:
        user = self.require(name)
        new = _replace(user, disabled=True, generation=user.generation + 1)
        self._save(new)
        return new

    def list(self) -> list[User]:
        rows: dict[bytes, bytes] = self.redis.hgetall(center_key("users"))
        return sorted((_decode(v) for v in rows.values()), key=lambda u: u.name)

    def get(self, name: str) -> User | None:
        raw: bytes | None = self.redis.hget(center_key("users"), name)
        return None if raw is None else _decode(raw)

    def require(self, name: str) -> User:
        user = self.get(check_name(name))
        if user is None:
            raise AccountError(f"no user {name!r}")
        return user

    def _save(self, user: User) -> None:
        self.redis.hset(center_key("users"), user.name, _encode(user))

    # --- logging in ---------------------------------------------------------------------

    def locked_for(self, name: str) -> int:
        """Seconds the name stays locked (0: not locked)."""
        ttl: int = self.redis.ttl(_locked_key(name))
        return max(ttl, 0)

    def login(self, name: str, password: str) -> User:
        """The user, or :class:`AccountError` (the same words for a wrong name or password)."""
        if self.locked_for(name):
            raise AccountError("locked")
        user = self.get(name) if _NAME.fullmatch(name) else None
        ok = check_password(password[:MAX_PASSWORD], user.password if user else self._decoy)
        if user is None or not ok or user.disabled:
            self._failed(name)
            raise AccountError("wrong")
        self.redis.delete(_fails_key(name))
        return user

    def _failed(self, name: str) -> None:
        key = _fails_key(name)
        pipe: Any
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, LOCK_S)
            count, _ = pipe.execute()
        if int(count) >= MAX_FAILURES:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(_locked_key(name), str(int(time.time())), ex=LOCK_S)
                pipe.delete(key)
                pipe.execute()


def _fails_key(name: str) -> str:
    return center_key(f"fails:{name[:80]}")  # any name typed counts, bounded in size


def _locked_key(name: str) -> str:
    return center_key(f"locked:{name[:80]}")


def _encode(user: User) -> str:
    doc = asdict(user)
    doc["halls"] = list(user.halls)
    return json.dumps(doc, ensure_ascii=False)


def _decode(raw: bytes) -> User:
    doc = json.loads(raw)
    doc["halls"] = tuple(doc["halls"])
    return User(**doc)


def _replace(user: User, **changes: Any) -> User:
    doc = asdict(user)
    doc.update(changes)
    doc["halls"] = tuple(doc["halls"])
    return User(**doc)
