"""EfficientZero ablation: efficientzero vs muzero vs each addition switched off.

    python -m benchmarks.ablation            # CartPole-v1 and Breakout-MinAtar, 4 vmapped seeds per variant
    python -m benchmarks.ablation --quick    # a tiny budget, end to end (what CI runs)

Variants per env: `efficientzero` (every addition of agent.config.ADDITIONS on),
`muzero` (all off), and `efficientzero - X` for each addition X that applies (the
augmentation only to pixels). Every variant of an env gets the same env-step budget
and the same seeds, trained together (vmapped) in one run per variant; each run evaluates with a
greedy search every `eval_every` env steps. Reported per variant: the final evaluation, the mean of all evaluations (area
under the learning curve: rewards learning early), wall seconds of the variant's run (all its seeds
at once, compile included).

Writes, under --out-dir (benchmarks/results/ by default): ablation.json, ablation.md and
ablation.png (the final returns, and the learning curves of efficientzero vs muzero).
Runs are kept under --runs-dir; finished runs are reused, stopped ones resumed.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import envs
from agent.config import ADDITIONS, EvalConfig, preset, with_additions
from agent.host.records import read_metrics, rows_by_seed
from benchmarks.provenance import RESULTS, write_results
from benchmarks.runs import train_or_reuse


@dataclass(frozen=True)
class Args:
    """EfficientZero ablation on CartPole-v1 and Breakout-MinAtar."""

    quick: bool = False
    """A tiny budget (1 seed, 2 variants, 64 env steps per run): checks the pipeline, not the science."""
    envs: tuple[str, ...] = ("cartpole", "breakout-minatar")
    """Envs to run."""
    seeds: int = 4
    """Seeds per variant: first_seed..first_seed + seeds - 1, trained together (vmapped) in one run."""
    first_seed: int = 0
    """The first seed."""
    cartpole_env_steps: int = 3_000
    """Env-step budget of every CartPole run."""
    breakout_env_steps: int = 1_500
    """Env-step budget of every Breakout-MinAtar run (its ResNet learner is slow on a CPU)."""
    eval_every: int = 500
    """Evaluate every this many env steps (and at the end)."""
    batch_size: int = 128
    """Replay batch of every run (smaller than the presets' 256: reanalyze re-searches part of each batch)."""
    replay_ratio: float = 1.0
    """Learner updates per env step, constant over the run, in every run."""
    variants: tuple[str, ...] = ()
    """Only these variants (default: all; names as in the report, e.g. 'muzero', 'efficientzero - consistency')."""
    name: str = "ablation"
    """File stem of the outputs (NAME.json, NAME.md, NAME.png)."""
    out_dir: str = ""
    """Where NAME.{json,md,png} go (default: benchmarks/results/, or runs/ablation_quick/ with --quick)."""
    runs_dir: str = ""
    """Where the training runs are kept (default: runs/ablation[_quick]/)."""

    def resolved(self) -> Args:
        quick = {"seeds": 1, "cartpole_env_steps": 64, "breakout_env_steps": 64, "eval_every": 64,
                     "variants": self.variants or ("efficientzero", "muzero")} if self.quick else {}
        suffix = "_quick" if self.quick else ""
        return dataclasses.replace(
            self, **quick,
            out_dir=self.out_dir or (f"runs/ablation{suffix}" if self.quick else str(RESULTS)),
            runs_dir=self.runs_dir or f"runs/ablation{suffix}")


def applicable_additions(env_name: str) -> tuple[str, ...]:
    """The additions that change anything on this env (augmentation needs images)."""
    images = len(envs.make(env_name).observation_shape) == 3
    return tuple(a for a in ADDITIONS if images or a != "augmentation")


def variants(env_name: str) -> dict[str, tuple[str, ...]]:
    """Variant name -> the additions it switches on."""
    on = applicable_additions(env_name)
    table = {"efficientzero": on, "muzero": ()}
    table.update({f"efficientzero - {a}": tuple(x for x in on if x != a) for a in on})
    return table


def run_config(env_name: str, additions: tuple[str, ...], budget: int, args: Args, out: Path):
    """The env's preset with `additions` on, the ablation's batch and constant replay ratio, every seed
    of `args` in one vmapped run."""
    base = preset(env_name)
    base = dataclasses.replace(base, replay=dataclasses.replace(
        base.replay, batch_size=args.batch_size, replay_ratio=args.replay_ratio, replay_ratio_start=args.replay_ratio))
    config = with_additions(base, additions)
    eval_every, quick = args.eval_every, args.quick
    eval_config = dataclasses.replace(base.eval, every_env_steps=eval_every, stop_at_return=None)
    if quick:  # tiny sizes: a pipeline check, compiled in seconds
        config = dataclasses.replace(
            config, num_envs=2, act_steps_per_iteration=2,
            planner=dataclasses.replace(config.planner, num_simulations=2),
            replay=dataclasses.replace(config.replay, capacity_per_env=32, batch_size=4, min_size_per_env=8),
            network=dataclasses.replace(config.network, hidden=8, latent=8, layers=1, value_support=5,
                                        reward_support=2, channels=4, lstm_hidden=8),
            loss=dataclasses.replace(config.loss, unroll_steps=2, td_steps=2))
        eval_config = EvalConfig(episodes=2, every_env_steps=eval_every, num_simulations=2)
    return dataclasses.replace(config, seed=args.first_seed, seeds=args.seeds, total_env_steps=budget, out=str(out),
                               eval=eval_config,
                               eval_on_gymnasium=False, checkpoint_every_env_steps=budget)


def seed_summary(rows: list[dict]) -> dict:
    """One seed's metrics rows -> its final evaluation, the mean of its evaluations and its curve."""
    curve = [(r["env_steps"], r["eval_return_mean"]) for r in rows if r.get("eval_return_mean") is not None]
    return {"final_eval": curve[-1][1], "mean_eval": float(np.mean([c[1] for c in curve])), "curve": curve}


def variant_summary(run_dir: Path, additions: tuple[str, ...]) -> dict:
    """A variant's vmapped run -> per seed summaries, their means, the run's wall and compile seconds."""
    rows = read_metrics(run_dir)
    runs = [{"seed": seed, **seed_summary(seed_rows)} for seed, seed_rows in rows_by_seed(rows).items()]
    return {"additions": list(additions), "runs": runs,
            "final_eval_mean": float(np.mean([r["final_eval"] for r in runs])),
            "mean_eval_mean": float(np.mean([r["mean_eval"] for r in runs])),
            "wall_s": round(max(r["wall_s"] for r in rows), 1),
            "compile_s": next((r["compile_s"] for r in rows if "compile_s" in r), None)}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env_names = list(report["envs"])
    fig, axes = plt.subplots(2, len(env_names), figsize=(6.5 * len(env_names), 8), squeeze=False)
    for e, env_name in enumerate(env_names):
        table = report["envs"][env_name]["variants"]
        names = list(table)
        ax = axes[0, e]
        means = [table[n]["final_eval_mean"] for n in names]
        ax.barh(range(len(names)), means, color=["tab:blue" if n == "efficientzero" else "tab:orange"
                                                 if n == "muzero" else "tab:gray" for n in names])
        for i, n in enumerate(names):
            ax.plot([r["final_eval"] for r in table[n]["runs"]], [i] * len(table[n]["runs"]), "k.", ms=5)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"final eval return (dots: seeds), {report['envs'][env_name]['env_steps']} env steps")
        ax.set_title(env_name)
        ax = axes[1, e]
        for n, color in (("efficientzero", "tab:blue"), ("muzero", "tab:orange")):
            if n not in table:
                continue
            for k, run in enumerate(table[n]["runs"]):
                xs, ys = zip(*run["curve"])
                ax.plot(xs, ys, c=color, alpha=0.7, marker="o", ms=3, label=n if k == 0 else None)
        ax.set_xlabel("env steps")
        ax.set_ylabel("eval return")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"EfficientZero ablation — {report['provenance']['machine']['cpu']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def variant_table(env_report: dict) -> str:
    """One env's variants: final evaluation (mean and per seed), mean of all evaluations, wall seconds."""
    lines = ["| variant | final eval (mean over seeds) | per seed | mean of all evals | wall s (all seeds, one run) |",
             "| --- | --- | --- | --- | --- |"]
    for name, v in env_report["variants"].items():
        per_seed = " / ".join(f"{r['final_eval']:.1f}" for r in v["runs"])
        lines.append(f"| {name} | {v['final_eval_mean']:.1f} | {per_seed} | {v['mean_eval_mean']:.1f} | "
                     f"{v['wall_s']:.0f} |")
    return "\n".join(lines) + "\n"


def table_md(report: dict) -> str:
    machine = report["provenance"]["machine"]
    lines = [(f"Machine: {machine['cpu']}, {machine['cores']} cores. Seeds {report['seeds']}; evaluation every "
             f"{report['eval_every']} env steps (greedy search)."), ""]
    for env_name, env_report in report["envs"].items():
        lines += [f"### {env_name}: {env_report['env_steps']} env steps per run", "", variant_table(env_report)]
    return "\n".join(lines)


def main(args: Args) -> dict:
    args = args.resolved()
    out_dir, runs_dir = Path(args.out_dir), Path(args.runs_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    budgets = {"cartpole": args.cartpole_env_steps, "breakout-minatar": args.breakout_env_steps}
    started = time.perf_counter()
    report = {"benchmark": "EfficientZero ablation",
              "seeds": list(range(args.first_seed, args.first_seed + args.seeds)), "eval_every": args.eval_every,
              "additions": ADDITIONS, "envs": {}}
    for env_name in args.envs:
        if env_name not in budgets:
            raise SystemExit(f"error: --envs {env_name!r}: choose from {', '.join(budgets)}")
        table = {}
        for name, additions in variants(env_name).items():
            if args.variants and name not in args.variants:
                continue
            run_dir = runs_dir / env_name / name.replace(" - ", "_minus_")
            train_or_reuse(run_config(env_name, additions, budgets[env_name], args, run_dir))
            table[name] = variant_summary(run_dir, additions)
            finals = " / ".join(f"{r['final_eval']:.1f}" for r in table[name]["runs"])
            print(f"{env_name} | {name}: final evals {finals}, {table[name]['wall_s']:.0f} s "
                  f"[{time.perf_counter() - started:.0f} s so far]", flush=True)
        report["envs"][env_name] = {"env_steps": budgets[env_name], "variants": table}
    report["settings"] = {"batch_size": args.batch_size, "replay_ratio": args.replay_ratio,
                          "variants": list(args.variants) or "all"}
    report = write_results(out_dir / f"{args.name}.json", report, args, started)
    (out_dir / f"{args.name}.md").write_text(table_md(report))
    plot(report, out_dir / f"{args.name}.png")
    print(table_md(report))
    print(f"wrote {out_dir}/{args.name}.{{json,md,png}} in {report['provenance']['wall_s']:.0f} s")
    return report


if __name__ == "__main__":
    import tyro

    main(tyro.cli(Args))
