"""The catch-up benchmark runs end to end (a small backlog; the figures are not checked)."""

from __future__ import annotations

from typing import Any

from tools import bench_center


def test_the_center_benchmark_runs_and_prints_both_rates(capsys: Any) -> None:
    assert bench_center.main(["--records", "3000", "--batch", "500"]) == 0
    out = capsys.readouterr().out
    assert "raw http.server + json.loads" in out and "outbox -> center -> redis-server" in out
    assert "of the raw loop (goal >= 30%)" in out and "without TCP_NODELAY" in out
