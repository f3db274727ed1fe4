"""The center's configuration file: clear errors naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import ConfigError
from server_stub.config import load_center_config, token_digest
from tests.center.fixtures import IT_TOKEN, TOKEN, VIEWER_TOKEN, write_center

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "a" * 64


def test_the_sample_and_the_test_files_load() -> None:
    sample = load_center_config(ROOT / "server_stub" / "samples" / "center.toml")
    assert list(sample.halls) == ["qingpu-demo"]
    assert sample.hall_by_token("demo-agent-token-qingpu-0123456789") is not None
    assert sample.is_viewer("demo-viewer-token-0123456789")


def test_tokens_are_matched_by_digest(tmp_path: Path) -> None:
    settings = load_center_config(write_center(tmp_path))
    entry = settings.hall_by_token(TOKEN)
    assert entry is not None and entry.id == "test" and entry.token_sha256 == token_digest(TOKEN)
    assert entry.config.hall_id == "test" and entry.region_code == "310118"
    assert settings.is_viewer(VIEWER_TOKEN) and not settings.is_viewer(TOKEN)
    assert settings.max_body_bytes == 16 << 20
    assert entry.it_token_sha256 == token_digest(IT_TOKEN)


@pytest.mark.parametrize(("text", "message"), [
    ('[halls.test]\ntoken_sha256 = "xyz"\nconfig = "test.toml"\nregion_code = "310118"\n',
     "[halls.test] token_sha256: must be 64 hex digits"),
    (f'[halls.test]\ntoken_sha256 = "{DIGEST}"\nregion_code = "310118"\n',
     "[halls.test] config: missing"),
    (f'[halls.test]\ntoken_sha256 = "{DIGEST}"\nconfig = "other.toml"\nregion_code = "310118"\n',
     "configures hall 'other', not 'test'"),
    (f'[halls.test]\ntoken_sha256 = "{DIGEST}"\nconfig = "nowhere.toml"\nregion_code = "1"\n',
     "[halls.test] config: "),
    (f'[halls.test]\ntoken_sha256 = "{DIGEST}"\nconfig = "test.toml"\nregion_code = "31"\n',
     "[halls.test] region_code: must be 6 digits"),
    (f'[halls.test]\ntoken_sha256 = "{DIGEST}"\nconfig = "test.toml"\nregion_code = "310118"\n'
     f'[viewer]\ntoken_sha256 = "{DIGEST}"\n', "[viewer] token_sha256: the same token as "
                                                 "[halls.test]"),
    (f'[halls.test]\ntoken_sha256 = "{DIGEST}"\nconfig = "test.toml"\nregion_code = "310118"\n'
     f'it_token_sha256 = "{DIGEST}"\n', "[halls.test] it_token_sha256: the same token as "
                                        "[halls.test] token_sha256"),
    (f'[halls.test]\ntoken_sha256 = "{DIGEST}"\nconfig = "test.toml"\nregion_code = "310118"\n'
     'it_token_sha256 = "abc"\n', "[halls.test] it_token_sha256: must be 64 hex digits"),
    ('[server]\nmax_body_bytes = 0\n', "[server] max_body_bytes: must be greater than 0"),
    ('[server]\nmax_body = 1\n', "[server] max_body: unknown key"),
    ('[hall]\nid = "x"\n', "hall: unknown section"),
    ('[halls.test]\ntoken_sha256 = "', "not valid TOML"),
    ('[storage]\n', "[storage]: give either url (one Redis) or cluster (seed nodes)"),
    ('[storage]\nurl = "r://x"\ncluster = ["a:1"]\n', "[storage]: give either url"),
    ('[storage]\nurl = "http://x"\n', "[storage] url: must be a redis:// URL"),
    ('[storage]\ncluster = []\n', "[storage] cluster: must be a list of"),
    ('[storage]\ncluster = ["10.0.0.1"]\n', "each seed node must be \"host:port\", got "
                                           "'10.0.0.1'"),
    ('[storage]\nsentinel = 1\n', "[storage] sentinel: unknown key"),
    ('[archive]\nkeep_months = 1\n', "[archive] dir: missing"),
    ('[archive]\ndir = "a"\nevery_hours = -1\n', "must be 0 or more"),
])
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    write_center(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_center_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_storage_and_archive_sections(tmp_path: Path) -> None:
    settings = load_center_config(write_center(
        tmp_path, '[storage]\ncluster = ["10.0.0.1:7000", "[::1]:7001"]\n'
                  '[archive]\ndir = "months"\nkeep_months = 2\n'))
    assert settings.storage is not None and settings.storage.url is None
    assert settings.storage.cluster == (("10.0.0.1", 7000), ("::1", 7001))
    assert settings.archive is not None and settings.archive.dir == tmp_path / "months"
    assert (settings.archive.keep_months, settings.archive.every_hours) == (2, 24.0)
    single = load_center_config(write_center(tmp_path, '[storage]\nurl = "redis://h:1/2"\n'))
    assert single.storage is not None and single.storage.url == "redis://h:1/2"
    assert single.archive is None and load_center_config(write_center(tmp_path)).storage is None
