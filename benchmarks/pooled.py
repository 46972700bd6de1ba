"""Seeds from several committed CartPole results, pooled: independent runs of one config (seeds 0-7 and
8-15, `--first-seed`) read as one set of 16 seeds. Nothing is trained; the numbers come from the files.

    python -m benchmarks.pooled \
        --curves "preset=cartpole_cpu_replication+cartpole_cpu_replication_seeds_8_15" \
                 "observation noise 0.1=cartpole_cpu_observation_noise+cartpole_cpu_observation_noise_seeds_8_15" \
        --study "preset=sample_efficiency_replication:default+sample_efficiency_seeds_8_15:default" ...

--curves: learning-curve files (benchmarks/learning_curve.py); --study: variants of sample-efficiency files
(benchmarks/sample_efficiency.py), as FILE:VARIANT. Files are named by stem, in benchmarks/results/.
Writes benchmarks/results/NAME.{json,md}.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

from benchmarks.learning_curve import summarize, summarize_staying
from benchmarks.provenance import RESULTS, write_results
from benchmarks.sample_efficiency import _cell as _steps
from benchmarks.sample_efficiency import run_mean

STEADY = 0.8  # the bar: at least 80% of a seed's later evaluations >= 475
LATE = 5_000  # the bar: every seed solved within 5,000 env steps


@dataclass(frozen=True)
class Args:
    """Pool the seeds of several committed CartPole results."""

    curves: tuple[str, ...] = ()
    """LABEL=STEM+STEM...: learning-curve results whose seeds are pooled under LABEL."""
    study: tuple[str, ...] = ()
    """LABEL=STEM:VARIANT+STEM:VARIANT...: sample-efficiency variants whose seeds are pooled under LABEL."""
    name: str = "pooled_cartpole"
    """Output stem."""
    out_dir: str = str(RESULTS)
    """Folder of the input files and the output."""


def _split(spec: str) -> tuple[str, list[str]]:
    label, sep, parts = spec.partition("=")
    if not sep or not parts:
        raise SystemExit(f"error: {spec!r} is not LABEL=PART+PART...")
    return label, parts.split("+")


def _load(folder: Path, stem: str) -> dict:
    return json.loads((folder / f"{stem}.json").read_text())


def pooled_curves(folder: Path, stems: list[str]) -> dict:
    """The learning-curve summary over every seed of `stems` (per_seed rows of benchmarks.learning_curve)."""
    seeds = [s for stem in stems for s in _load(folder, stem)["seeds"]]
    first = [s["first_eval_at_least_475"] for s in seeds]
    stays = [s["later_evals_at_least_475_fraction"] for s in seeds if s["later_evals_at_least_475_fraction"] is not None]
    return {"files": stems, "seeds": [s["seed"] for s in seeds],
            ">=475": summarize(seeds, "first_eval_at_least_475"),
            "later_than_5000": sum(f is None or f["env_steps"] > LATE for f in first),
            "later_evals_at_least_475": {**summarize_staying(seeds), "steady_seeds": sum(x >= STEADY for x in stays)}}


def pooled_study(folder: Path, parts: list[str]) -> dict:
    """Seeds short of 475 and the mean evaluation over the run, over every seed of the FILE:VARIANT parts."""
    seeds = []
    for part in parts:
        stem, _, variant = part.partition(":")
        rows = [v for v in _load(folder, stem)["variants"] if v["variant"] == variant]
        if not rows:
            raise SystemExit(f"error: {stem}.json has no variant {variant!r}")
        seeds += rows[0]["seeds"]
    return {"parts": parts, "seeds": len(seeds), "short": sum(s["first_solved_env_steps"] is None for s in seeds),
            "mean_eval_over_the_run": run_mean({"seeds": seeds}, solved=475.0)}


def markdown(report: dict) -> str:
    lines = []
    if report["curves"]:
        labels = list(report["curves"])
        c = [report["curves"][k] for k in labels]
        lines += ["| learning curves, seeds pooled | " + " | ".join(labels) + " |",
                  "| --- |" + " ---: |" * len(labels),
                  "| seeds | " + " | ".join(str(len(x["seeds"])) for x in c) + " |",
                  "| median env steps to the first evaluation >= 475 | "
                  + " | ".join(_steps(x[">=475"]["median_env_steps"]) for x in c) + " |",
                  "| median wall s to it (the clock of the seed's 8-seed vmapped program, compilation included) | "
                  + " | ".join(_steps(x[">=475"]["median_wall_s"]) for x in c) + " |",
                  "| worst seed | " + " | ".join(_steps(x[">=475"]["worst_env_steps"]) for x in c) + " |",
                  "| seeds never at 475 | " + " | ".join(str(len(x["seeds"]) - x[">=475"]["seeds_reaching"]) for x in c) + " |",
                  f"| seeds needing more than {LATE:,} (never included) | "
                  + " | ".join(str(x["later_than_5000"]) for x in c) + " |",
                  "| later evaluations still >= 475, mean over the seeds that reached it | "
                  + " | ".join(f"{x['later_evals_at_least_475']['mean']:.1%} ({x['later_evals_at_least_475']['seeds']} seeds)"
                               for x in c) + " |",
                  f"| seeds staying in >= {STEADY:.0%} of their later evaluations | "
                  + " | ".join(f"{x['later_evals_at_least_475']['steady_seeds']} of {x['later_evals_at_least_475']['seeds']}"
                               for x in c) + " |", ""]
    if report["study"]:
        lines += ["| study rows, seeds pooled | seeds | short of 475 | mean eval over the run |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {k} | {v['seeds']} | {v['short']} | {v['mean_eval_over_the_run']} |" for k, v in report["study"].items()]
        lines.append("")
    return "\n".join(lines)


def main(args: Args) -> dict:
    started, folder = time.perf_counter(), Path(args.out_dir)
    report = {"benchmark": "CartPole-v1 results of independent seed sets, pooled",
              "curves": {label: pooled_curves(folder, stems) for label, stems in map(_split, args.curves)},
              "study": {label: pooled_study(folder, parts) for label, parts in map(_split, args.study)}}
    report = write_results(folder / f"{args.name}.json", report, args, started)
    (folder / f"{args.name}.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
