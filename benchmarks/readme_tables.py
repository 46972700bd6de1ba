"""README's result tables, generated from the JSON files they cite, so that no number in
them is typed by hand.

    python -m benchmarks.readme_tables           # rewrite the generated blocks of README.md
    python -m benchmarks.readme_tables --check   # exit 1 and name the stale blocks (a test runs this)

README marks each generated block with `<!-- table: NAME -->` ... `<!-- /table: NAME -->`;
NAME is a key of TABLES, a function of the results folder that returns the block's markdown.
"""
from __future__ import annotations

import json
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks import ablation, lightzero_compare, minatar_curve, misgeneralization
from benchmarks.pooled import markdown as pooled_markdown
from benchmarks.provenance import RESULTS, ROOT, machine_text
from benchmarks.sample_efficiency import replication_table
from benchmarks.sample_efficiency import table as sample_efficiency_table

README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table: (?P=name) -->)", re.DOTALL)


def load(results: Path, name: str) -> dict:
    return json.loads((results / f"{name}.json").read_text())


def source(report: dict, name: str) -> str:
    """The line under every table: which file, which commit, which machine."""
    p = report["provenance"]
    m = p["machine"]
    named = " (named by GLASSZERO_COMMIT)" if (p.get("commit_source") or "").startswith("GLASSZERO_COMMIT") else ""
    return (f"<sub>From [{name}.json](benchmarks/results/{name}.json): `{p['command']}` at commit "
            f"{(p['commit'] or 'unknown')[:10]}{named}{' (uncommitted changes)' if p['dirty'] else ''}, "
            f"{machine_text(m)} ({m['cores']} cores, {m['accelerator']}), jax {p['versions']['jax']}, {p['wall_s']:,.0f} s.</sub>\n")


def _steps(hit: dict | None) -> str:
    return f"{hit['env_steps']:,} steps, {hit['wall_s']:.0f} s" if hit else "not reached"


def _step_count(value: float | None) -> str:
    return "never" if value is None else f"{value:,.0f}"


def cartpole_curve(name: str) -> Callable[[Path], str]:
    """The per-seed table of a learning-curve result NAME.json (benchmarks/learning_curve.py)."""
    return lambda results: _cartpole_curve(results, name)


def _cartpole_curve(results: Path, name: str) -> str:
    r = load(results, name)
    lines = [("| seed | first eval >= 195 | first eval >= 475 | later evals still >= 475 | best eval | "
             "final eval (JAX env) | final eval (gymnasium CartPole-v1) |"), "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in r["seeds"]:
        best = max(c[2] for c in s["curve"])
        gym = s["gymnasium_final_eval_mean"]
        stay = s.get("later_evals_at_least_475_fraction")  # recorded since the results at 48c3a78
        lines.append(f"| {s['seed']} | {_steps(s['first_eval_at_least_195'])} | {_steps(s['first_eval_at_least_475'])} "
                     f"| {'-' if stay is None else f'{stay:.0%}'} | {best:.0f} | "
                     f"{s['final_eval_mean']:.0f} ± {s['final_eval_std']:.0f} | {'-' if gym is None else f'{gym:.0f}'} |")
    summary = r["summary"][">=475"]
    compile_s = statistics.median(s["first_iteration_s_including_compile"] for s in r["seeds"])
    lines += ["", (f"Median to the first evaluation >= 475: {_step_count(summary['median_env_steps'])} env steps "
              f"and {_step_count(summary['median_wall_s'])} s (the first iteration, compilation included, took "
              f"{compile_s:.0f} s); worst seed: {_step_count(summary['worst_env_steps'])}; "
              f"{summary['seeds_reaching']} of {len(r['seeds'])} seeds got there within "
              f"{r['seeds'][0]['env_steps']:,} env steps.")]
    staying = r["summary"].get("later_evals_at_least_475")
    if staying and staying["seeds"]:
        lines[-1] += (f" Later evaluations still >= 475: {staying['mean']:.0%} on average over the "
                      f"{staying['seeds']} seeds with any, {staying['lowest']:.0%} for the lowest.")
    lines.append("")
    return "\n".join(lines) + source(r, name)


def one_seed_runs(results: Path) -> str:
    """Each seed of the CartPole preset in its own train.py process (benchmarks/one_seed_runs.py)."""
    r = load(results, "cartpole_cpu_one_seed_per_run")
    lines = ["| seed | first eval >= 475 (run's clock, compilation included) | process, launch to exit |",
             "| --- | --- | --- |"]
    lines += [f"| {s['seed']} | {_steps(s['first_eval_at_least_475'])} | {s['process_wall_s']:.0f} s |" for s in r["seeds"]]
    summary = r["summary"]
    worst = ("never" if summary["worst_env_steps"] is None
             else f"{summary['worst_env_steps']:,} env steps, {summary['worst_wall_s']:.0f} s")
    lines += ["", (f"Median to the first evaluation >= 475: {_step_count(summary['median_env_steps'])} env steps and "
                   f"{_step_count(summary['median_wall_s'])} s; worst seed: {worst}; median process wall: "
                   f"{summary['median_process_wall_s']:.0f} s; {summary['seeds_reaching']} of {len(r['seeds'])} seeds "
                   f"got there."), ""]
    return "\n".join(lines) + source(r, "cartpole_cpu_one_seed_per_run")


def objectives(name: str) -> Callable[[Path], str]:
    """The per-seed table of an objectives benchmark NAME.json."""
    return lambda results: _objectives(results, name)


def _objectives(results: Path, name: str) -> str:
    r = load(results, name)
    labels = list(r["mean_over_runs"])
    depths = r.get("drift_depths")  # files written since the benchmark measures the world model's drift
    drift = ([f"model's {f} error at {' / '.join(map(str, depths))} steps" for f in ("x", "theta")]
             if depths else [])
    lines = ["| run | " + " | ".join(labels + drift) + " |", "| --- |" + " --- |" * len(labels + drift)]
    for row in r["runs"]:
        cells = [f"{row[k]['mean']:.0f} ± {row[k]['std']:.0f}" for k in labels]
        cells += [" / ".join(f"{e:.3f}" for e in row["model_drift"][f]) for f in ("x", "theta")] if depths else []
        lines.append(f"| {row['run']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + source(r, name)


def misgeneralization_main(results: Path) -> str:
    r = load(results, "misgeneralization")
    return misgeneralization.main_tables(r) + "\n" + source(r, "misgeneralization")


def misgeneralization_sweep(results: Path) -> str:
    r = load(results, "misgeneralization")
    return misgeneralization.sweep_table(r) + "\n" + source(r, "misgeneralization")


def ablation_tables(name: str) -> Callable[[Path], str]:
    def table(results: Path) -> str:
        r = load(results, name)
        parts = [f"{env_name}, {env_report['env_steps']:,} env steps per run:\n\n" + ablation.variant_table(env_report)
                 for env_name, env_report in r["envs"].items()]
        return "\n".join(parts) + "\n" + source(r, name)
    return table


def search_throughput(name: str) -> Callable[[Path], str]:
    """The sweep's table of a search-throughput result NAME.json (search_cpu, search_gpu)."""
    return lambda results: _search_throughput(results, name)


def _search_throughput(results: Path, name: str) -> str:
    r = load(results, name)
    lines = [("| policy | batch | sims | A | glasszero sims/s | mctx sims/s | speed-up over mctx | networks alone sims/s "
             "| bound: networks alone / mctx | identical action weights |"),
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for p in sorted(r["points"], key=lambda p: (p["policy"], p["simulations"], p["actions"], p["batch"])):
        g, m, n = (p[k]["simulations_per_s"] for k in ("glasszero", "mctx", "networks"))
        lines.append(f"| {p['policy']} | {p['batch']} | {p['simulations']} | {p['actions']} | {g:,.0f} | {m:,.0f} | "
                     f"{g / m:.2f}x | {n:,.0f} | {n / m:.1f}x | {'yes' if p['same_action_weights_as_mctx'] else 'NO'} |")
    measured = r.get("points_measured")  # "k of n" since the GPU sweep; older files hold whole sweeps
    cut = measured is not None and measured != f"{len(r['points'])} of {len(r['points'])}"
    return ("\n".join(lines) + "\n\n" + (f"The sweep was cut short: {measured} points measured.\n\n" if cut else "")
            + source(r, name))


def search_profile(results: Path) -> str:
    r = load(results, "search_profile")
    lines = [("| policy | B | A | XLA ops per simulation, mctx -> glasszero | select | backward | network | "
             "tree share of op time, mctx -> glasszero | wall speed-up |"),
             "| --- | ---: | ---: | --- | --- | --- | --- | --- | ---: |"]
    for p in r["points"]:
        n, m, g = p["simulations"], p["mctx"], p["glasszero"]

        def ops(phase, m=m, g=g, n=n):  # bound now: the loop rebinds m, g, n
            return f"{m['ops'][phase] / n:.0f} -> {g['ops'][phase] / n:.0f}"

        def share(impl):
            return 1 - impl["op_s"]["network"] / sum(impl["op_s"].values())

        lines.append(f"| {p['policy']} | {p['batch']} | {p['actions']} | "
                     f"{sum(m['ops'].values()) / n:.0f} -> {sum(g['ops'].values()) / n:.0f} | {ops('select')} | "
                     f"{ops('backward')} | {ops('network')} | {share(m):.0%} -> {share(g):.0%} | {p['speedup']:.2f}x |")
    return "\n".join(lines) + "\n\n" + source(r, "search_profile")


def puct_speed(results: Path) -> str:
    r = load(results, "search_cpu_puct")
    names = [n for n in r["rows"][0]["median_s"] if n != "mctx muzero_policy"]
    lines = ["| batch | A | " + " | ".join(f"{n}: speed-up over mctx.muzero_policy" for n in names) + " |",
             "| ---: | ---: |" + " ---: |" * len(names)]
    for row in r["rows"]:
        base = row["median_s"]["mctx muzero_policy"]
        cells = []
        for n in names:
            same = row["identical_to_mctx"].get(n)
            cells.append(f"{base / row['median_s'][n]:.2f}x" + ("" if same is None else " (identical)" if same
                                                               else " (differs)"))
        lines.append(f"| {row['batch']} | {row['actions']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + source(r, "search_cpu_puct")


def soak(results: Path) -> str:
    r = load(results, "soak")
    after = [x for x in r["samples"] if x["t_s"] >= r["warmup_s"] and x["rss_bytes"]]
    mb = lambda x: f"{x['rss_bytes'] / 2**20:,.0f} MB"
    peak = max(after, key=lambda x: x["rss_bytes"])
    v = r["verdict"]
    lines = [("| minutes | env steps reached | RSS at the end of the warm-up | peak RSS after it | last RSS | "
             "growth (last - lowest after the warm-up) | bound | verdict |"), "| --- | --- | --- | --- | --- | --- | --- | --- |",
             (f"| {r['provenance']['args']['minutes']:g} | {max(x['env_steps'] or 0 for x in r['samples']):,} | "
             f"{mb(after[0])} | {mb(peak)} (minute {peak['t_s'] / 60:.0f}) | {mb(after[-1])} | {v['growth_mb']} MB | "
             f"{v['max_growth_mb']:g} MB | {'passed' if v['passed'] else 'FAILED'} |")]
    return "\n".join(lines) + "\n\n" + source(r, "soak")


def sample_efficiency(name: str) -> Callable[[Path], str]:
    """The variant table of a sample-efficiency study NAME.json (CartPole's, or a gridworld's)."""
    def table(results: Path) -> str:
        r = load(results, name)
        return sample_efficiency_table(r) + "\n" + source(r, name)
    return table


def replication(name: str) -> Callable[[Path], str]:
    """The side-by-side table of a study run with --replicates (earlier file, this machine, pooled)."""
    def table(results: Path) -> str:
        r = load(results, name)
        return replication_table(r) + "\n" + source(r, name)
    return table


def seed_batch(results: Path) -> str:
    r = load(results, "seed_batch_cpu")
    lines = [("| seeds | env steps/s per seed | env steps/s in total | total vs 1 seed | updates/s per seed | "
             "compile + first iteration |"), "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {x['seeds']} | {x['env_steps_per_s_per_seed']:,.0f} | {x['env_steps_per_s_total']:,.0f} | "
              f"{x['total_throughput_vs_first']:.2f}x | {x['updates_per_s_per_seed']:,.0f} | "
              f"{x['compile_and_first_iteration_s']:.0f} s |" for x in r["rows"]]
    return "\n".join(lines) + "\n\n" + source(r, "seed_batch_cpu")


def lightzero(results: Path) -> str:
    r = load(results, "lightzero_compare")
    return lightzero_compare.table(r) + "\n" + source(r, "lightzero_compare")


def pooled(results: Path) -> str:
    r = load(results, "pooled_cartpole")
    return pooled_markdown(r) + "\n" + source(r, "pooled_cartpole")


def breakout_minatar(name: str) -> Callable[[Path], str]:
    """The per-seed table of a MinAtar learning-curve result NAME.json (breakout_minatar_cpu, _gpu)."""
    def table(results: Path) -> str:
        r = load(results, name)
        return minatar_curve.table(r) + "\n" + source(r, name)
    return table


TABLES: dict[str, Callable[[Path], str]] = {
    "sample_efficiency": sample_efficiency("sample_efficiency"),
    "sample_efficiency_coin_at_end": sample_efficiency("sample_efficiency_coin_at_end"),
    "sample_efficiency_cheese_in_corner": sample_efficiency("sample_efficiency_cheese_in_corner"),
    "sample_efficiency_replication": replication("sample_efficiency_replication"),
    "sample_efficiency_seeds_8_15": sample_efficiency("sample_efficiency_seeds_8_15"),
    "seed_batch_cpu": seed_batch,
    "soak": soak,
    "cartpole_cpu": cartpole_curve("cartpole_cpu"),
    "cartpole_cpu_per_episode_50": cartpole_curve("cartpole_cpu_per_episode_50"),
    "cartpole_cpu_lookahead_td3": cartpole_curve("cartpole_cpu_lookahead_td3"),
    "cartpole_cpu_replication": cartpole_curve("cartpole_cpu_replication"),
    "cartpole_cpu_observation_latent": cartpole_curve("cartpole_cpu_observation_latent"),
    "cartpole_cpu_observation_noise": cartpole_curve("cartpole_cpu_observation_noise"),
    "cartpole_cpu_observation_noise_seeds_8_15": cartpole_curve("cartpole_cpu_observation_noise_seeds_8_15"),
    "cartpole_cpu_replication_seeds_8_15": cartpole_curve("cartpole_cpu_replication_seeds_8_15"),
    "cartpole_cpu_mirror": cartpole_curve("cartpole_cpu_mirror"),
    "cartpole_cpu_one_seed_per_run": one_seed_runs,
    "cartpole_cpu_mirror_seeds_8_15": cartpole_curve("cartpole_cpu_mirror_seeds_8_15"),
    "cartpole_cpu_mirror_target_5": cartpole_curve("cartpole_cpu_mirror_target_5"),
    "cartpole_cpu_mirror_target_5_seeds_8_15": cartpole_curve("cartpole_cpu_mirror_target_5_seeds_8_15"),
    "cartpole_cpu_seeds_8_15": cartpole_curve("cartpole_cpu_seeds_8_15"),
    "cartpole_cpu_lr_decay_10000": cartpole_curve("cartpole_cpu_lr_decay_10000"),
    "cartpole_cpu_lr_decay_10000_seeds_8_15": cartpole_curve("cartpole_cpu_lr_decay_10000_seeds_8_15"),
    "pooled_cartpole": pooled,
    "lightzero_compare": lightzero,
    "breakout_minatar_cpu": breakout_minatar("breakout_minatar_cpu"),
    "breakout_minatar_gpu": breakout_minatar("breakout_minatar_gpu"),
    "objectives_cartpole": objectives("objectives_cartpole"),
    "objectives_cartpole_2000_steps": objectives("objectives_cartpole_2000_steps"),
    "objectives_cartpole_2000_steps_observation_latent": objectives("objectives_cartpole_2000_steps_observation_latent"),
    "objectives_cartpole_2000_steps_observation_noise": objectives("objectives_cartpole_2000_steps_observation_noise"),
    "misgeneralization_main": misgeneralization_main,
    "misgeneralization_sweep": misgeneralization_sweep,
    "ablation_cartpole": ablation_tables("ablation_cartpole"),
    "ablation_breakout": ablation_tables("ablation_breakout"),
    "search_cpu": search_throughput("search_cpu"),
    "search_gpu": search_throughput("search_gpu"),
    "search_cpu_puct": puct_speed,
    "search_profile": search_profile,
}


def render(text: str, results: Path = RESULTS) -> tuple[str, list[str]]:
    """(text with every generated block rebuilt, names of the blocks that changed)."""
    changed = []

    def rebuild(match: re.Match) -> str:
        name = match["name"]
        if name not in TABLES:
            raise ValueError(f"README names a table {name!r} that benchmarks/readme_tables.py does not know; "
                             f"known: {', '.join(TABLES)}")
        body = TABLES[name](results)
        if body != match["body"]:
            changed.append(name)
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(rebuild, text), changed


def main(argv: list[str]) -> int:
    text = README.read_text()
    new, changed = render(text)
    if "--check" in argv:
        if changed:
            print(f"README.md tables out of date with their JSON: {', '.join(changed)}; "
                  f"run python -m benchmarks.readme_tables", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    print(f"rewrote {', '.join(changed) or 'nothing (README was up to date)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
