"""Soak: does a long run hold its memory flat?

    python -m benchmarks.soak                      # CartPole default preset, 30 minutes
    python -m benchmarks.soak --minutes 2 --tiny   # the short version (a test runs it)

Runs `train.py` as a child process (a fresh run that never stops on its own), samples the
child's resident memory (RSS, from /proc) every `--every-s` seconds and, where the device
reports it, the device memory in use (the run's metrics rows carry `device_bytes_in_use`);
after `--minutes` it sends SIGTERM (the run saves and exits). The verdict: the RSS growth
after the warm-up (the first `--warmup-fraction` of the time: compilation and the
replay filling), from the lowest sample since then to the last one, must stay under
`--max-growth-mb`.

Writes NAME.json (every sample, the verdict, the provenance) and NAME.png (RSS and device
memory over time) under --out-dir (benchmarks/results/ by default).
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

from agent.host.records import read_metrics
from benchmarks.provenance import RESULTS, ROOT, write_results

# The tiny shapes of the short version: seconds to compile, so the samples watch the loop itself.
TINY_FLAGS = ["--num-envs", "2", "--network.hidden", "8", "--network.latent", "8", "--network.layers", "1",
              "--planner.num-simulations", "2", "--replay.capacity-per-env", "64", "--replay.batch-size", "8",
              "--replay.min-size-per-env", "16", "--eval.episodes", "2", "--eval.num-simulations", "2",
              "--eval.every-env-steps", "2000", "--checkpoint-every-env-steps", "2000"]


@dataclass(frozen=True)
class Args:
    """Memory of a long training run."""

    minutes: float = 30.0
    """How long the run trains before SIGTERM."""
    every_s: float = 30.0
    """Seconds between memory samples."""
    warmup_fraction: float = 0.2
    """The first part of the time, excluded from the verdict (compilation, the replay filling up)."""
    warmup_env_steps: int = 0
    """The warm-up also lasts until the run has logged this many env steps (past its first
    evaluations and checkpoints, whose programs compile when first used)."""
    max_growth_mb: float = 200.0
    """The verdict's bound on RSS growth after the warm-up, in MB."""
    tiny: bool = False
    """Tiny networks and batches (the short version's shapes)."""
    name: str = "soak"
    """Output file stem."""
    out_dir: str = str(RESULTS)
    """Folder for NAME.json and NAME.png."""
    run_dir: str = "runs/soak"
    """The training run's folder (replaced at each soak)."""


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a live process, from /proc/<pid>/status (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def verdict(samples: list[dict], warmup_s: float, max_growth_mb: float) -> dict:
    """RSS growth after the warm-up: the last sample above the lowest one since the warm-up
    (a one-off release, e.g. of compilation buffers, cannot hide a leak that follows it),
    against the bound."""
    after = [s for s in samples if s["t_s"] >= warmup_s and s["rss_bytes"] is not None]
    if len(after) < 2:
        return {"growth_mb": None, "max_growth_mb": max_growth_mb, "passed": False,
                "why": "fewer than two samples after the warm-up"}
    lowest = min(after, key=lambda s: s["rss_bytes"])
    growth = (after[-1]["rss_bytes"] - lowest["rss_bytes"]) / 2**20
    return {"growth_mb": round(growth, 1), "max_growth_mb": max_growth_mb, "passed": growth <= max_growth_mb,
            "from_s": lowest["t_s"], "to_s": after[-1]["t_s"]}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = report["samples"]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot([s["t_s"] / 60 for s in samples], [(s["rss_bytes"] or 0) / 2**20 for s in samples], "-o", ms=3,
            label="host RSS")
    device = [(s["t_s"] / 60, s["device_bytes_in_use"] / 2**20) for s in samples if s.get("device_bytes_in_use")]
    if device:
        ax.plot(*zip(*device, strict=True), "-s", ms=3, label="device memory in use")
    ax.axvline(report["warmup_s"] / 60, ls="--", c="gray", lw=1, label="end of warm-up")
    ax.set_xlabel("minutes")
    ax.set_ylabel("MB")
    v = report["verdict"]
    ax.set_title(f"soak: RSS growth after warm-up {v['growth_mb']} MB (bound {v['max_growth_mb']} MB)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(args: Args) -> dict:
    started = time.perf_counter()
    command = [sys.executable, "train.py", "--out", args.run_dir, "--overwrite", "--total-env-steps", "100000000",
               "--eval.stop-at-return", "None", "--no-eval-on-gymnasium", *(TINY_FLAGS if args.tiny else [])]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples, t0 = [], time.perf_counter()
    try:
        while (t := time.perf_counter() - t0) < 60 * args.minutes and child.poll() is None:
            rows = read_metrics(ROOT / args.run_dir) if (ROOT / args.run_dir).exists() else []
            last = rows[-1] if rows else {}
            samples.append({"t_s": round(t, 1), "rss_bytes": rss_bytes(child.pid),
                            "env_steps": last.get("env_steps"), "device_bytes_in_use": last.get("device_bytes_in_use")})
            time.sleep(min(args.every_s, max(60 * args.minutes - t, 0.1)))
    finally:
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=300)
    if child.returncode != 0:
        raise RuntimeError(f"the training run failed (exit {child.returncode}): {stderr[-2000:]}")
    warmup_s = args.warmup_fraction * 60 * args.minutes
    warm = [x["t_s"] for x in samples if (x["env_steps"] or 0) >= args.warmup_env_steps]
    warmup_s = max(warmup_s, warm[0] if warm else 60 * args.minutes)  # never warm: no sample counts
    report = {"benchmark": "soak: host and device memory of a long training run", "train_command": command,
              "warmup_s": warmup_s, "samples": samples, "verdict": verdict(samples, warmup_s, args.max_growth_mb)}
    out_dir = Path(args.out_dir)
    report = write_results(out_dir / f"{args.name}.json", report, args, started)
    plot(report, out_dir / f"{args.name}.png")
    print(f"soak: {len(samples)} samples over {args.minutes} min; {report['verdict']}")
    return report


if __name__ == "__main__":
    report = main(tyro.cli(Args))
    raise SystemExit(0 if report["verdict"]["passed"] else 1)
