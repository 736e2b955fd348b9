"""The benchmark harness end to end in quick mode: every figure is measured and written."""

import json
import shutil
from pathlib import Path

import pytest

from tests.required_services import service_missing
from tests.stack import _postgres_bin

pytestmark = pytest.mark.services


def test_the_quick_benchmark_writes_every_figure(tmp_path: Path) -> None:
    if _postgres_bin() is None or shutil.which("redis-server") is None:
        service_missing("PostgreSQL server binaries or redis-server not installed")
    from tests.bench.run import main

    out = tmp_path / "latest.json"
    main(["--quick", "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["bare"]["per_s"] > 0
    for kind in ("read", "write"):
        assert results["ceiling"][kind]["per_s"] > 0
        assert results["ceiling"][kind]["ratio_to_bare"] > 0
    assert results["create"]["per_s"] > 0
    assert results["create"]["ratio_to_bare"] > 0
    assert results["round_trip"]["per_s"] > 0
    assert results["round_trip"]["ratio_to_bare"] > 0
    assert {"p50", "p95", "p99"} <= results["callback_latency"]["ms"].keys()
    for size in ("small", "large"):
        for kind in ("poll", "list", "fetch"):
            assert results["scale"][size][kind]["p50"] > 0
    assert results["scale"]["ratio_p50"].keys() == {"poll", "list", "fetch"}
    interleaved = results["scale"]["interleaved"]
    for size in ("small", "large"):
        for kind in ("poll", "list", "fetch"):
            assert interleaved[size][kind]["p50"] > 0
    assert interleaved["ratio_p50"].keys() == {"poll", "list", "fetch"}
    assert results["sweep"]["seconds"] > 0
    assert results["push_wake"]["lost"] == 0
    assert 0 < results["push_wake"]["woken_ms"]["p50"] <= results["push_wake"]["woken_ms"]["p99"]
    assert results["sweep"]["due"] == 500
    assert results["sweep"]["expiries_per_s"] > 0
    assert results["burst"]["due"] == 500
    assert results["burst"]["called_back_s"] > 0
    assert results["scale"]["large"]["settled"]["prewarm"]["pages"] > 0
    for request in ("create", "poll", "list", "fetch", "answer", "callback"):
        assert results["queries"][request]["queries"] > 0
    assert len(results["targets"]) == 8
    assert all(isinstance(t["pass"], bool) for t in results["targets"])
