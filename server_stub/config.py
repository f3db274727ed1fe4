"""The center's own TOML configuration: which halls it serves, their tokens, their rules.

    [server]                      # optional
    max_body_bytes = 16777216     # a larger request body is refused (413)
    max_batch_records = 20000     # a batch with more records is refused (422)

    [viewer]                      # optional: the token that may read every hall's reports
    token_sha256 = "<hex>"

    [storage]                     # optional: where the records are kept (else serve --redis)
    url = "redis://127.0.0.1:6379/0"                  # one Redis server, or:
    cluster = ["10.0.0.1:7000", "10.0.0.2:7000"]      # a Redis Cluster's seed nodes

    [archive]                     # optional: closed months moved out of Redis to files
    dir = "/var/lib/window-eval/archive"              # relative to center.toml
    keep_months = 1               # serve's periodic run keeps this many closed months
    every_hours = 24              # how often serve runs it (0: only the archive command)

    [halls.qingpu]
    token_sha256 = "<hex sha256 of the agent's token>"
    it_token_sha256 = "<hex>"     # optional: the IT department's credential (rulings)
    config = "qingpu.toml"        # the hall's own file (calendar, penalties, scale)
    region_code = "310118"        # 行政区划代码, for the 好差评 export
    followup_working_days = 5     # optional: a bad rating's follow-up is due this many
                                  # working days later (the console's 差评回访)

Tokens are kept only as SHA-256 digests. An unknown key, a wrong type or a bad value raises
:class:`edge_agent.config.ConfigError` naming the file and the key, as the hall files do.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.config import HallConfig, load_config
from edge_agent.toml_fields import ConfigError, as_table, check_keys, id_tables, typed_value
from server_stub.storage import StorageSettings

DEFAULT_MAX_BODY = 16 << 20
DEFAULT_MAX_RECORDS = 20_000
DEFAULT_FOLLOWUP_DAYS = 5
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class HallEntry:
    id: str
    token_sha256: str
    config: HallConfig
    region_code: str
    # The hall's IT department (信息技术科): files repair records and rules on them.
    it_token_sha256: str | None = None
    followup_working_days: int = DEFAULT_FOLLOWUP_DAYS


@dataclass(frozen=True)
class ArchiveSettings:
    dir: Path
    keep_months: int = 1
    every_hours: float = 24.0


@dataclass(frozen=True)
class CenterSettings:
    halls: dict[str, HallEntry] = field(default_factory=dict)
    viewer_sha256: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_batch_records: int = DEFAULT_MAX_RECORDS
    storage: StorageSettings | None = None  # None: serve's --redis
    archive: ArchiveSettings | None = None

    def hall_by_token(self, token: str) -> HallEntry | None:
        digest = token_digest(token)
        return next((h for h in self.halls.values() if h.token_sha256 == digest), None)

    def is_viewer(self, token: str) -> bool:
        return self.viewer_sha256 is not None and token_digest(token) == self.viewer_sha256


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_center_config(path: str | Path) -> CenterSettings:
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    try:
        return build_center_config(raw, p.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def build_center_config(raw: dict[str, Any], base_dir: Path) -> CenterSettings:
    check_keys(raw, "", {"server", "viewer", "halls", "storage", "archive"})
    server = as_table(raw.get("server", {}), "server")
    check_keys(server, "server", {"max_body_bytes", "max_batch_records"})
    viewer = as_table(raw.get("viewer", {}), "viewer")
    check_keys(viewer, "viewer", {"token_sha256"})
    settings = CenterSettings(
        halls=_halls(as_table(raw.get("halls", {}), "halls"), base_dir),
        viewer_sha256=_digest(viewer, "viewer") if viewer else None,
        max_body_bytes=_positive_int(server, "max_body_bytes", DEFAULT_MAX_BODY),
        max_batch_records=_positive_int(server, "max_batch_records", DEFAULT_MAX_RECORDS),
        storage=_storage(as_table(raw["storage"], "storage")) if "storage" in raw else None,
        archive=_archive(as_table(raw["archive"], "archive"), base_dir)
        if "archive" in raw else None,
    )
    _distinct_tokens(settings)
    return settings


def _halls(raw: dict[str, Any], base_dir: Path) -> dict[str, HallEntry]:
    out = {}
    keys = {"token_sha256", "it_token_sha256", "config", "region_code",
            "followup_working_days"}
    for hall_id, where, t in id_tables(raw, "halls", keys):
        if "config" not in t:
            raise ConfigError(f"[{where}] config: missing (the path of the hall's hall.toml)")
        config_path = base_dir / typed_value(t, where, "config", str, "")
        try:
            config = load_config(config_path)
        except ConfigError as exc:
            raise ConfigError(f"[{where}] config: {exc}") from None
        if config.hall_id != hall_id:
            raise ConfigError(f"[{where}] config: {config_path} configures hall "
                              f"{config.hall_id!r}, not {hall_id!r}")
        region = typed_value(t, where, "region_code", str, "")
        if not re.fullmatch(r"\d{6}", region):
            raise ConfigError(f"[{where}] region_code: must be 6 digits (行政区划代码), "
                              f"got {region!r}")
        it_digest = _digest(t, where, "it_token_sha256") if "it_token_sha256" in t else None
        days: int = typed_value(t, where, "followup_working_days", int, DEFAULT_FOLLOWUP_DAYS)
        if not 1 <= days <= 60:
            raise ConfigError(f"[{where}] followup_working_days: 1 to 60, got {days}")
        out[hall_id] = HallEntry(hall_id, _digest(t, where), config, region, it_digest,
                                 days)
    return out


def _storage(t: dict[str, Any]) -> StorageSettings:
    check_keys(t, "storage", {"url", "cluster"})
    if ("url" in t) == ("cluster" in t):
        raise ConfigError("[storage]: give either url (one Redis) or cluster (seed nodes)")
    if "url" in t:
        url: str = typed_value(t, "storage", "url", str, "")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"[storage] url: must be a redis:// URL, got {url!r}")
        return StorageSettings(url=url)
    seeds = t["cluster"]
    if not isinstance(seeds, list) or not seeds:
        raise ConfigError("[storage] cluster: must be a list of \"host:port\" seed nodes")
    return StorageSettings(cluster=tuple(_node(seed) for seed in seeds))


def _node(seed: Any) -> tuple[str, int]:
    match = re.fullmatch(r"(\[[^\]]+\]|[^:\s\[\]]+):(\d{1,5})", seed) \
        if isinstance(seed, str) else None
    if match is None or not 0 < int(match[2]) < 65536:
        raise ConfigError(f"[storage] cluster: each seed node must be \"host:port\", got {seed!r}")
    return match[1].strip("[]"), int(match[2])


def _archive(t: dict[str, Any], base_dir: Path) -> ArchiveSettings:
    check_keys(t, "archive", {"dir", "keep_months", "every_hours"})
    if "dir" not in t:
        raise ConfigError("[archive] dir: missing (the folder of the month files)")
    keep: int = typed_value(t, "archive", "keep_months", int, 1)
    every: float = typed_value(t, "archive", "every_hours", float, 24.0)
    if keep < 0 or every < 0:
        raise ConfigError("[archive] keep_months and every_hours: must be 0 or more")
    return ArchiveSettings(base_dir / typed_value(t, "archive", "dir", str, ""), keep, every)


def _digest(t: dict[str, Any], where: str, key: str = "token_sha256") -> str:
    value: str = typed_value(t, where, key, str, "")
    value = value.lower()
    if not _HEX64.fullmatch(value):
        raise ConfigError(f"[{where}] {key}: must be 64 hex digits (the SHA-256 of the "
                          "token: `printf %s TOKEN | sha256sum`)")
    return value


def _positive_int(t: dict[str, Any], key: str, default: int) -> int:
    value: int = typed_value(t, "server", key, int, default)
    if value <= 0:
        raise ConfigError(f"[server] {key}: must be greater than 0, got {value}")
    return value


def _distinct_tokens(settings: CenterSettings) -> None:
    seen: dict[str, str] = {}
    owners = [(f"[halls.{h.id}] token_sha256", h.token_sha256) for h in settings.halls.values()]
    owners += [(f"[halls.{h.id}] it_token_sha256", h.it_token_sha256)
               for h in settings.halls.values() if h.it_token_sha256]
    if settings.viewer_sha256:
        owners.append(("[viewer] token_sha256", settings.viewer_sha256))
    for where, digest in owners:
        if digest in seen:
            raise ConfigError(f"{where}: the same token as {seen[digest]}; each hall, its IT "
                              "department and the viewer need their own")
        seen[digest] = where
