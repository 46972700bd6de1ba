"""The search-throughput benchmark's quick mode runs, writes its outputs outside the committed
results, and the planner's action weights equal plain mctx's for the same key and networks."""
import json

from benchmarks.search_throughput import Args, main


def test_quick_benchmark_schema_and_equality_with_plain_mctx(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --quick writes under ./runs/search_quick, never benchmarks/results
    report = main(Args(quick=True))
    out = tmp_path / "runs" / "search_quick"
    saved = json.loads((out / "search_quick.json").read_text())
    assert saved["quick"] is True and saved["device"]
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
