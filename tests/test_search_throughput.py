"""The search-throughput benchmark's quick mode runs, writes its outputs outside the committed
results, and the planner's action weights equal plain mctx's for the same key and networks."""
import json

import pytest

from benchmarks import search_throughput
from benchmarks.search_throughput import Args, main


def test_quick_benchmark_schema_and_equality_with_plain_mctx(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --quick writes under ./runs/search_quick, never benchmarks/results
    report = main(Args(quick=True))
    out = tmp_path / "runs" / "search_quick"
    saved = json.loads((out / "search_quick.json").read_text())
    assert saved["quick"] is True and saved["device"] and saved["points_measured"] == "3 of 3"
    assert saved["provenance"]["versions"]["mctx"] and saved["provenance"]["args"]["quick"] is True
    assert (out / "search_quick.md").read_text().count("\n| ") >= 3
    assert (out / "search_quick.png").stat().st_size > 0
    for point in report["points"]:
        for key in ("policy", "batch", "simulations", "actions", "network", "compile_s",
                    "ratio_glasszero_over_mctx"):
            assert key in point
        for impl in ("glasszero", "mctx", "networks"):
            assert point[impl]["simulations_per_s"] > 0
            assert point[impl]["median_s"] > 0
        assert point["same_action_weights_as_mctx"], point
        assert point["same_actions_as_mctx"], point


def test_a_sweep_cut_short_keeps_the_points_it_measured_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    measure = search_throughput.measure_point
    calls = []

    def stopped_at_the_second_point(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a lease's time limit would stop it
        return measure(*args)

    monkeypatch.setattr(search_throughput, "measure_point", stopped_at_the_second_point)
    with pytest.raises(KeyboardInterrupt):
        main(Args(quick=True))
    out = tmp_path / "runs" / "search_quick"
    saved = json.loads((out / "search_quick.json").read_text())
    assert saved["points_measured"] == "1 of 3" and len(saved["points"]) == 1
    assert "1 of 3 points measured" in (out / "search_quick.md").read_text()
