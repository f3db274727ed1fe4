"""Accounts: the scrypt hashes, and ``python -m server_stub user ...`` run as a process
against a real redis-server (the password from standard input, never argv)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from server_stub.accounts import AccountError, Accounts, Kdf, check_password
from server_stub.store import center_key
from tests.center.fixtures import write_center
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_kdf_is_memory_hard_scrypt_with_a_salt_per_hash() -> None:
    kdf = Kdf()
    assert (kdf.n, kdf.r, kdf.p) == (1 << 15, 8, 3)  # 128 * r * N = 32 MiB per hash
    one, two = kdf.encode("a long password"), kdf.encode("a long password")
    assert one.startswith("scrypt$32768$8$3$") and one != two
    assert check_password("a long password", one) and check_password("a long password", two)
    assert not check_password("a long passwore", one)
    assert not check_password("a long password", "md5$whatever")


def user(redis_server: RedisServer, center: Path, *args: str, stdin: str = ""
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server_stub", "user", *args, "--config",
                           str(center), "--redis", redis_server.url], input=stdin, text=True,
                          capture_output=True, cwd=ROOT, timeout=60, check=False)


def test_user_commands(tmp_path: Path, redis_server: RedisServer) -> None:
    center = write_center(tmp_path / "center")
    secret = "s3cret password from stdin"
    r = user(redis_server, center, "add", "boss", "--role", "manager", "--hall", "test",
             stdin=secret + "\n")
    assert r.returncode == 0, r.stderr
    assert "boss added: manager of halls test" in r.stdout
    r = user(redis_server, center, "add", "s1", "--role", "staff", "--hall", "test",
             "--staff", "S1", "--confirm", stdin="another password\nanother password\n")
    assert r.returncode == 0, r.stderr
    with redis_server.client() as client:
        raw = client.hget(center_key("users"), "boss")
        assert raw is not None and secret.encode() not in raw
        stored = json.loads(raw)
        assert check_password(secret, stored["password"])
        accounts = Accounts(client)
        assert accounts.login("boss", secret).role == "manager"
    r = user(redis_server, center, "list")
    assert r.stdout.splitlines() == ["boss\tmanager of halls test\tenabled",
                                     "s1\tstaff of halls test (staff S1)\tenabled"]
    r = user(redis_server, center, "passwd", "boss", stdin="the next password\n")
    assert r.returncode == 0 and "older sessions ended" in r.stdout
    r = user(redis_server, center, "disable", "s1")
    assert r.returncode == 0
    assert user(redis_server, center, "list").stdout.splitlines()[1].endswith("disabled")
    with redis_server.client() as client:
        with pytest.raises(AccountError):
            Accounts(client).login("boss", secret)
        assert Accounts(client).login("boss", "the next password").name == "boss"


@pytest.mark.parametrize(("args", "stdin", "says"), [
    (["add", "x", "--role", "boss", "--hall", "test"], "long enough pw\n", "invalid choice"),
    (["add", "x", "--role", "manager", "--hall", "nowhere"], "long enough pw\n",
     "--hall 'nowhere': not a hall"),
    (["add", "x", "--role", "manager"], "long enough pw\n", "needs --hall"),
    (["add", "x", "--role", "staff", "--hall", "test"], "long enough pw\n", "--staff"),
    (["add", "x", "--role", "viewer", "--hall", "test"], "long enough pw\n", "give no --hall"),
    (["add", "x", "--role", "viewer"], "short\n", "10 to 1024 characters"),
    (["add", "x", "--role", "viewer", "--confirm"], "long enough pw\nother one!!\n", "differ"),
    (["add", "bad name", "--role", "viewer"], "long enough pw\n", "user name"),
    (["passwd", "nobody"], "long enough pw\n", "no user 'nobody'"),
    (["disable", "nobody"], "", "no user 'nobody'"),
])
def test_bad_user_commands_exit_2_saying_why(tmp_path: Path, redis_server: RedisServer,
                                             args: list[str], stdin: str, says: str) -> None:
    center = write_center(tmp_path / "center")
    r = user(redis_server, center, *args, stdin=stdin)
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    with redis_server.client() as client:
        assert client.hlen(center_key("users")) == 0


def test_a_name_is_added_once(tmp_path: Path, redis_server: RedisServer) -> None:
    center = write_center(tmp_path / "center")
    add = ["add", "boss", "--role", "viewer"]
    assert user(redis_server, center, *add, stdin="first password\n").returncode == 0
    r = user(redis_server, center, *add, stdin="second password\n")
    assert r.returncode == 2 and "exists already" in r.stderr
