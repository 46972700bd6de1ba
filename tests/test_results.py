"""Every committed result traces back to the code that made it, and README's tables are the
JSON's numbers (benchmarks/readme_tables.py writes them; this checks nobody edited one)."""
import dataclasses
import json
import re
from pathlib import Path

import pytest

from agent.config import preset, save_config
from benchmarks import readme_tables
from benchmarks.provenance import RESULTS, ROOT, provenance, write_results
from benchmarks.runs import OtherConfig, train_or_reuse
from benchmarks.sample_efficiency import (
    PRESET_VARIANTS,
    Args,
    carried_variants,
    offered_variants,
    replicated,
    replication_table,
    resolved,
    seed_outcome,
    variant_config,
)

RESULT_FILES = sorted(RESULTS.glob("*.json"))
PROVENANCE_KEYS = {"commit", "dirty", "command", "args", "machine", "versions", "wall_s"}


@pytest.mark.parametrize("path", RESULT_FILES, ids=[p.name for p in RESULT_FILES])
def test_every_result_file_records_how_it_was_made(path):
    report = json.loads(path.read_text())
    made = report.get("provenance")
    assert made is not None, f"{path.name} has no provenance: rerun its script (see the README section citing it)"
    assert PROVENANCE_KEYS <= set(made), f"{path.name} lacks {PROVENANCE_KEYS - set(made)}"
    assert re.fullmatch(r"[0-9a-f]{40}", made["commit"] or ""), made["commit"]
    assert made["command"].startswith("python -m benchmarks."), made["command"]
    assert made["machine"]["cpu"] and made["machine"]["cores"] and made["machine"]["accelerator"]
    for package in ("python", "jax", "flax", "mctx"):
        assert made["versions"][package], package
    hand_fields = [k for k in re.findall(r'"(\w+)":', path.read_text()) if k.endswith("_note")]
    assert not hand_fields, f"{path.name} has fields no script writes: {hand_fields}"


def test_every_png_and_table_has_its_json():
    for path in RESULTS.iterdir():
        if path.suffix in (".png", ".md"):
            stem = re.sub(r"_(episodes|value_maps)$", "", path.stem)
            assert (RESULTS / f"{stem}.json").exists(), f"{path.name}: no {stem}.json records how it was made"


def test_readme_tables_equal_the_json_they_cite():
    text = (ROOT / "README.md").read_text()
    assert text.count("<!-- table:") >= 5, "README lost its generated tables"
    _, changed = readme_tables.render(text)
    assert not changed, f"README tables differ from their JSON: {changed}; run python -m benchmarks.readme_tables"


def test_provenance_names_commit_command_machine_and_versions(tmp_path):
    written = write_results(tmp_path / "r.json", {"x": 1}, {"flag": True}, started=0.0)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved == json.loads(json.dumps(written))
    assert saved["x"] == 1 and saved["provenance"]["args"] == {"flag": True}
    assert set(provenance({}, 0.0)) >= PROVENANCE_KEYS
    # Which CPU, beyond a masked model name: its vector instruction sets change XLA's float rounding.
    assert {"vendor", "family", "model", "vector_isa"} <= set(saved["provenance"]["machine"]["cpu_id"])


def test_a_copy_names_its_commit_in_glasszero_commit_and_keeps_its_own_git_view_beside_it(monkeypatch):
    from benchmarks import provenance as prov

    # As on the GPU machine of 2026-11-29: the copied files were commit c113ceb, the copy's .git said
    # cd6362b with those files uncommitted.
    views = {"rev-parse": "cd" * 20, "status": " M train.py"}
    monkeypatch.setattr(prov, "_git", lambda *args: views[args[0]])
    monkeypatch.delenv("GLASSZERO_COMMIT", raising=False)
    plain = prov.provenance({}, 0.0)
    assert (plain["commit"], plain["commit_source"], plain["dirty"]) == ("cd" * 20, "git", True)
    monkeypatch.setenv("GLASSZERO_COMMIT", "ab" * 20)
    made = prov.provenance({}, 0.0)
    assert made["commit"] == "ab" * 20 and made["commit_source"].startswith("GLASSZERO_COMMIT")
    assert made["copy_git"] == {"head": "cd" * 20, "uncommitted": ["train.py"]}
    assert set(made) >= PROVENANCE_KEYS
    monkeypatch.setenv("GLASSZERO_COMMIT", "c113ceb")  # a short hash cannot be checked against the history
    with pytest.raises(ValueError, match="not a full commit hash"):
        prov.provenance({}, 0.0)


def test_a_benchmark_refuses_to_reuse_a_run_trained_with_another_config(tmp_path):
    old = dataclasses.replace(preset("chain"), out=str(tmp_path))
    save_config(tmp_path, old)  # what train.py leaves in a run folder
    with pytest.raises(OtherConfig, match="discount"):
        train_or_reuse(dataclasses.replace(old, discount=0.9))


def test_the_study_carries_over_only_variants_measured_with_the_same_setup():
    committed = str(RESULTS / "sample_efficiency.json")
    carried = carried_variants(Args(carry_from=committed))
    assert set(carried) == {v["variant"] for v in json.loads(Path(committed).read_text())["variants"]}
    assert all(len(v["measured_at_commit"]) == 40 for v in carried.values())
    with pytest.raises(SystemExit, match="another env, base config, seeds"):
        carried_variants(Args(carry_from=committed, seeds=4))
    # Another set of seeds is an independent measurement: its runs start from other keys.
    assert variant_config(resolved(Args(first_seed=8)), "default").seed == 8
    with pytest.raises(SystemExit, match="another env, base config, seeds"):
        carried_variants(Args(carry_from=committed, first_seed=8))
    with pytest.raises(SystemExit, match="another env"):  # CartPole's results are no gridworld's
        carried_variants(Args(carry_from=committed, env="coin_at_end"))


def test_measuring_a_few_variants_into_a_carried_study_keeps_the_carried_ones(tmp_path):
    from benchmarks.sample_efficiency import main

    committed = json.loads((RESULTS / "sample_efficiency.json").read_text())
    committed["variants"] = [v for v in committed["variants"] if v["variant"] in ("default", "td5")]
    (tmp_path / "old.json").write_text(json.dumps(committed))
    # td5 is carried, so nothing is trained; default, not named in --variants, stays in the file.
    report = main(Args(variants=("td5",), carry_from=str(tmp_path / "old.json"), out_dir=str(tmp_path),
                       runs_dir=str(tmp_path / "runs")))
    assert [v["variant"] for v in report["variants"]] == ["default", "td5"]
    assert report["variants_done"] == "2 of 2" and not (tmp_path / "runs").exists()


def test_the_study_measures_variants_of_an_earlier_file_again_and_shows_both_and_pooled(tmp_path):
    committed = str(RESULTS / "sample_efficiency.json")
    earlier = replicated(Args(replicates=committed, variants=("default", "td5")))
    assert [v["variant"] for v in earlier["variants"]] == ["default", "td5"]
    assert all(len(v["measured_at_commit"]) == 40 for v in earlier["variants"])
    only_default = json.loads(Path(committed).read_text())
    only_default["variants"] = only_default["variants"][:1]
    (tmp_path / "old.json").write_text(json.dumps(only_default))
    with pytest.raises(SystemExit, match="no variant td5 to replicate"):
        replicated(Args(replicates=str(tmp_path / "old.json"), variants=("default", "td5")))
    with pytest.raises(SystemExit, match="nothing can be replicated"):
        replicated(Args(replicates=committed, variants=("default",), seeds=4))

    def seed(first):  # a seed first solved at `first` env steps (None: never), steady after
        return {"first_solved_env_steps": first, "first_solved_wall_s": first and first / 10,
                "later_evals_solved_fraction": first and 1.0}

    def variant(*firsts):
        from benchmarks.sample_efficiency import summarize
        seeds = [seed(f) for f in firsts]
        return {"variant": "default", "measured_at_commit": "ab" * 20, "summary": summarize(seeds), "seeds": seeds}

    report = {"seeds": 2, "replicates": {"file": "old.json", "machine": None, "variants": [variant(500, None)]},
              "variants": [{**variant(1000, 1500), "machine": {"cpu": "AMD EPYC", "cpu_id": {
                  "family": "25", "model": "17", "vector_isa": ["avx2", "avx512f"]}}}]}
    for entry in report["replicates"]["variants"] + report["variants"]:
        for s in entry["seeds"]:
            s["curve"] = [(250, 1.0, 100.0)]
    report["replicates"]["variants"][0]["seeds"][0]["curve"] = [(250, 1.0, 99.0)]
    text = replication_table(report)
    assert "family 25 model 17, AVX-512" in text and "the 4 seeds of both" in text
    # earlier: 1 never, median never; here: 0 never, median 1,250; pooled: 1 of 4 never, median 1,250.
    assert "| default | ababab" in text
    # ... and the mean evaluation over the run: 99.5 and 100 for the earlier seeds, 100 for these.
    assert ("| 1 / never / never / 1.00 / 100 ± 0 | 0 / 1,250 / 1,500 / 1.00 / 100 ± 0 | "
            "1 / 1,250 / never / 1.00 / 100 ± 0 |") in text
    # Evaluations equal seed for seed (the same kind of CPU): one measurement, not pooled twice.
    report["replicates"]["variants"][0]["seeds"][0]["curve"] = [(250, 1.0, 100.0)]
    assert "| the same evaluations: one measurement |" in replication_table(report)


def test_the_study_on_a_gridworld_counts_a_success_rate_and_offers_only_its_variants():
    args = resolved(Args(env="coin_at_end"))
    assert (args.name, args.runs_dir) == ("sample_efficiency_coin_at_end", "runs/sample_efficiency_coin_at_end")
    assert "td30" not in offered_variants("coin_at_end") and "q_tree" not in offered_variants("cartpole")
    config = variant_config(args, "q_tree")
    assert (config.env, config.eval.episodes, config.planner.gumbel_q_scaling) == ("coin_at_end", 64, "tree")
    # The study measures against the preset it started from; the variant PRESET_VARIANTS names is each
    # preset now, and the study's default is unchanged by that.
    for env in ("cartpole", "coin_at_end", "cheese_in_corner"):
        adopted = variant_config(resolved(Args(env=env)), PRESET_VARIANTS[env])
        assert (adopted.replay, adopted.loss, adopted.network, adopted.planner) == (
            preset(env).replay, preset(env).loss, preset(env).network, preset(env).planner)
        default = variant_config(resolved(Args(env=env)), "default")
        assert (default.loss.bootstrap, default.loss.td_steps, default.network.value_scale) == ("target", 10, 1.0)
        assert (default.loss.observation_noise, default.loss.mirror, default.loss.target_update_interval) == (
            0.0, False, 100)
    rows = [{"env_steps": 1000 * i, "wall_s": i, "eval_return_mean": r} for i, r in enumerate((0.5, 0.95, 0.9, 1.0), 1)]
    outcome = seed_outcome(rows, solved=0.95)
    assert (outcome["first_solved_env_steps"], outcome["later_evals_solved_fraction"]) == (2000, 0.5)
    with pytest.raises(SystemExit, match="choose from default, q_tree"):
        resolved(Args(env="coin_at_end", variants=("td30",)))
    # The committed gridworld studies carry over whole; `default` takes today's words for the same config.
    for env in ("coin_at_end", "cheese_in_corner"):
        committed = RESULTS / f"sample_efficiency_{env}.json"
        report = json.loads(committed.read_text())
        carried = carried_variants(Args(env=env, env_steps=report["env_steps"], eval_every=report["eval_every"],
                                        carry_from=str(committed)))
        assert set(carried) == {v["variant"] for v in report["variants"]}
        assert carried["default"]["change"].startswith(f"the {env} preset with replay ratio 4")


def test_the_study_table_shows_each_variants_mean_evaluation_over_the_run_with_its_standard_error():
    from benchmarks.sample_efficiency import run_mean
    # seed means 200 and 400 (every evaluation counts): mean 300, s.e. = stdev 141.4 / sqrt 2 = 100.
    variant = {"seeds": [{"curve": [(250, 1.0, 100.0), (500, 2.0, 300.0)]},
                         {"curve": [(250, 1.0, 300.0), (500, 2.0, 500.0)]}]}
    assert run_mean(variant, solved=475) == "300 ± 100"
    assert run_mean({"seeds": [{"curve": [(500, 1.0, 0.5)]}, {"curve": [(500, 1.0, 0.7)]}]}, solved=0.95) == "0.60 ± 0.10"


def test_pooled_results_read_independent_seed_sets_as_one():
    from benchmarks.pooled import pooled_curves, pooled_study
    one = json.loads((RESULTS / "cartpole_cpu_replication.json").read_text())
    alone = pooled_curves(RESULTS, ["cartpole_cpu_replication"])  # one file: its own summary back
    assert alone[">=475"] == one["summary"][">=475"]
    both = pooled_curves(RESULTS, ["cartpole_cpu_replication", "cartpole_cpu_replication_seeds_8_15"])
    assert both["seeds"] == list(range(16))
    study = pooled_study(RESULTS, ["sample_efficiency_replication:default", "sample_efficiency_seeds_8_15:default"])
    assert study["seeds"] == 16 and study["short"] == 4 + 6  # 4 of seeds 0-7 here, 6 of seeds 8-15
    with pytest.raises(SystemExit, match="has no variant 'nope'"):
        pooled_study(RESULTS, ["sample_efficiency:nope"])


def test_the_learning_curve_counts_how_often_a_seed_stays_solved():
    from benchmarks.learning_curve import per_seed_results, summarize_staying

    def rows(returns):
        return [{"env_steps": 250 * (i + 1), "updates": i, "wall_s": float(i), "eval_return_mean": r,
                 "eval_return_std": 0.0} for i, r in enumerate(returns)]

    steady = per_seed_results(0, rows([100.0, 480.0, 400.0, 490.0, 480.0]))  # solved at 500; 2 of 3 later stay
    never = per_seed_results(1, rows([100.0, 200.0, 300.0]))
    last = per_seed_results(2, rows([100.0, 475.0]))  # solved at its last evaluation: nothing later to count
    assert steady["first_eval_at_least_475"]["env_steps"] == 500
    assert steady["later_evals_at_least_475_fraction"] == 0.667
    assert never["later_evals_at_least_475_fraction"] is None and last["later_evals_at_least_475_fraction"] is None
    assert summarize_staying([steady, never, last]) == {"seeds": 1, "mean": 0.667, "lowest": 0.667}


def test_a_learning_curve_variant_is_the_studys_change_and_an_unknown_one_is_refused(tmp_path):
    from benchmarks import learning_curve, sample_efficiency

    config = learning_curve.run_config(learning_curve.Args(variant="per_episode_50"), tmp_path)
    base = sample_efficiency.study_base("cartpole")
    expected = sample_efficiency.VARIANTS["per_episode_50"][1](base)
    assert (config.replay, config.loss) == (expected.replay, expected.loss) and config.replay.updates_per_episode == 50
    # 'default' is the preset itself; a variant changes the study's base, the preset before observation
    # noise, the mirror and target copies every update, so that a curve of the variant the preset took is
    # the preset's curve.
    default = learning_curve.run_config(learning_curve.Args(), tmp_path)
    adopted = learning_curve.run_config(learning_curve.Args(variant=sample_efficiency.PRESET_VARIANTS["cartpole"]),
                                        tmp_path)
    assert (default.replay, default.loss, default.planner) == (preset("cartpole").replay, preset("cartpole").loss,
                                                               preset("cartpole").planner)
    assert dataclasses.replace(adopted, out=default.out) == default
    assert config.loss.observation_noise == 0 < default.loss.observation_noise
    assert not config.loss.mirror and default.loss.mirror
    assert config.loss.target_update_interval == 100 > default.loss.target_update_interval == 1
    # 'base' is what 'default' ran before the preset took the noise (cartpole_cpu_replication*.json).
    assert learning_curve.run_config(learning_curve.Args(variant="base"), tmp_path).loss == base.loss
    assert learning_curve.run_config(learning_curve.Args(first_seed=8), tmp_path).seed == 8  # seeds 8..15
    with pytest.raises(SystemExit, match="unknown --variant 'nope'; choose one of: default,"):
        learning_curve.run_config(learning_curve.Args(variant="nope"), tmp_path)


def test_a_run_stopped_by_its_wall_budget_says_how_far_it_got():
    from benchmarks.minatar_curve import markdown

    report = json.loads((RESULTS / "breakout_minatar_gpu.json").read_text())
    assert "31,568 of 100,000 env steps each, stopped at 360 wall seconds, NVIDIA H200" in markdown(report)


def test_the_search_table_says_when_its_sweep_was_cut_short(tmp_path):
    report = json.loads((RESULTS / "search_gpu.json").read_text())
    assert "cut short" not in readme_tables.search_throughput("search_gpu")(RESULTS)
    report["points"], report["points_measured"] = report["points"][:3], "3 of 10"
    (tmp_path / "search_gpu.json").write_text(json.dumps(report))
    assert "The sweep was cut short: 3 of 10 points measured." in readme_tables.search_throughput("search_gpu")(tmp_path)


def test_one_seed_runs_run_train_py_as_a_user_would_and_count_a_seed_that_never_solves():
    from benchmarks.one_seed_runs import Args as OneSeedArgs
    from benchmarks.one_seed_runs import command, summarize

    line = command(OneSeedArgs(total_env_steps=500), 3, Path("runs/x/seed_3"))
    assert line[1:4] == ["train.py", "--seed", "3"] and "--total-env-steps" in line and "500" in line
    assert line[line.index("--eval.stop-at-return") + 1] == "475.0"
    candidate = command(OneSeedArgs(train_flags="--loss.target-update-interval 2"), 3, Path("runs/x/seed_3"))
    assert candidate[-2:] == ["--loss.target-update-interval", "2"] and candidate[:-2] == command(
        OneSeedArgs(), 3, Path("runs/x/seed_3"))
    seeds = [{"first_eval_at_least_475": {"env_steps": 500, "wall_s": 20.0}, "process_wall_s": 30.0},
             {"first_eval_at_least_475": {"env_steps": 1000, "wall_s": 40.0}, "process_wall_s": 50.0},
             {"first_eval_at_least_475": None, "process_wall_s": 90.0}]
    assert summarize(seeds) == {"median_env_steps": 1000, "worst_env_steps": None, "median_wall_s": 40.0,
                                "worst_wall_s": None, "median_process_wall_s": 50.0, "seeds_reaching": 2}
