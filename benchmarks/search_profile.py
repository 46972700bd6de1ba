"""Where a search's time goes, op by op: mctx's search against search/batched_search.py's.

    python -m benchmarks.search_profile            # B=256, 50 simulations, A=4 and 18, Gumbel and PUCT
    python -m benchmarks.search_profile --quick    # a small check, written under runs/

For each implementation this runs the whole jitted search (root network call, then
`num_simulations` rounds of select -> expand -> backward) under `jax.profiler.trace`,
reads the Perfetto trace, and attributes every executed XLA op to a phase through the
op's name scope in the compiled HLO: `select`, `expand` (tree writes), `network` (the
recurrent function inside expand), `backward`, or `other` (keys, root, policy output).
mctx's three phase functions are wrapped in `jax.named_scope`s for the duration of the
run (they are module globals that `mctx.search` looks up at trace time), ours carry the
same scopes. Reported per search: executed ops per phase and the time spent inside
them (traced runs are slower than untraced ones, so the shares are what to read), next
to the untraced wall time (median of interleaved, warmed-up, synchronized calls).
Writes search_profile.{json,md}.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import gzip
import json
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import mctx
from mctx._src import search as mctx_search

from benchmarks.provenance import RESULTS, write_results
from benchmarks.search_throughput import (
    OBSERVATION_DIM,
    build_network,
    device_name,
    plain_mctx_fns,
)
from search import batched_search, puct

PHASES = ("select", "expand", "network", "backward", "other")


@dataclass(frozen=True)
class Args:
    """Op-level profile of one search: mctx vs glasszero's batched search."""

    quick: bool = False
    """B=16, A=4, 16 simulations, Gumbel only; written under runs/search_profile_quick/."""
    batch: int = 256
    simulations: int = 50
    actions: tuple[int, ...] = (4, 18)
    policies: tuple[str, ...] = ("gumbel", "muzero")
    repeats: int = 7
    """Untraced timed calls per implementation (median reported)."""
    out_dir: str = ""
    """Folder for search_profile.{json,md} (default benchmarks/results/)."""


@contextlib.contextmanager
def mctx_phases_scoped():
    """Wraps mctx's simulate / expand / backward in name scopes while tracing."""
    saved = {name: getattr(mctx_search, name) for name in ("simulate", "expand", "backward")}
    scope = {"simulate": "select", "expand": "expand", "backward": "backward"}

    def scoped(name, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with jax.named_scope(scope[name]):
                return fn(*args, **kwargs)
        return wrapper

    try:
        for name, fn in saved.items():
            setattr(mctx_search, name, scoped(name, fn))
        yield
    finally:
        for name, fn in saved.items():
            setattr(mctx_search, name, fn)


def search_fns(graphdef, policy: str, num_simulations: int):
    """name -> fn(params, key, obs) -> action weights, for mctx and glasszero."""
    root_fn, recurrent_fn = plain_mctx_fns(graphdef)

    def network_scoped(params, key, action, embedding):
        with jax.named_scope("network"):
            return recurrent_fn(params, key, action, embedding)

    policies = ({"mctx": mctx.gumbel_muzero_policy, "glasszero": batched_search.gumbel_muzero_policy}
                if policy == "gumbel" else {"mctx": mctx.muzero_policy, "glasszero": puct.muzero_policy})

    def make(policy_fn):
        def run(params, key, obs):
            out = policy_fn(params, key, root_fn(params, obs), network_scoped, num_simulations=num_simulations)
            return out.action_weights
        return run

    return {name: make(fn) for name, fn in policies.items()}


def op_phases(compiled_hlo: str) -> dict[str, str]:
    """HLO instruction name -> phase, from each instruction's op_name metadata."""
    phases = {}
    for match in re.finditer(r"%([\w.\-]+) = [^\n]*?op_name=\"([^\"]+)\"", compiled_hlo):
        scopes = match.group(2).split("/")
        phase = next((p for p in ("network", "backward", "expand", "select") if p in scopes), "other")
        phases[match.group(1)] = phase
    return phases


def traced_ops(fn, args, calls: int, phases: dict[str, str]) -> dict:
    """Runs fn `calls` times under jax.profiler.trace -> per-call op counts and op seconds by phase."""
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            for _ in range(calls):
                jax.block_until_ready(fn(*args))
        trace_file = next(Path(folder).rglob("*perfetto_trace.json.gz"))
        with gzip.open(trace_file) as stream:
            events = json.load(stream)
    events = events["traceEvents"] if isinstance(events, dict) else events
    count, seconds = collections.Counter(), collections.Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("ph") != "X" or name not in phases or name.startswith("while"):
            continue  # host-side events, and while loops (their body ops are counted themselves)
        count[phases[name]] += 1
        seconds[phases[name]] += event.get("dur", 0) * 1e-6
    return {"ops": {p: count[p] / calls for p in PHASES}, "op_s": {p: seconds[p] / calls for p in PHASES}}


def profile_point(policy: str, batch: int, num_actions: int, num_simulations: int, repeats: int) -> dict:
    graphdef, params = build_network(num_actions, "mlp")
    obs = jax.random.normal(jax.random.PRNGKey(2), (batch, OBSERVATION_DIM))
    key = jax.random.PRNGKey(3)
    result = {"policy": policy, "batch": batch, "actions": num_actions, "simulations": num_simulations}
    with mctx_phases_scoped():
        jitted = {name: jax.jit(fn) for name, fn in search_fns(graphdef, policy, num_simulations).items()}
        hlo = {name: fn.lower(params, key, obs).compile().as_text() for name, fn in jitted.items()}
        for fn in jitted.values():
            jax.block_until_ready(fn(params, key, obs))
    times = {name: [] for name in jitted}
    for r in range(repeats):
        for name, fn in jitted.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(params, jax.random.fold_in(key, r), obs))
            times[name].append(time.perf_counter() - start)
    for name, fn in jitted.items():
        result[name] = {"wall_s": statistics.median(times[name]),
                        **traced_ops(fn, (params, key, obs), 3, op_phases(hlo[name]))}
    result["speedup"] = result["mctx"]["wall_s"] / result["glasszero"]["wall_s"]
    return result


def markdown(points: list[dict], header: str) -> str:
    lines = [header, "",
             ("Per search: XLA ops executed and seconds inside them, by phase (from a traced run; tracing "
              "slows ops down, read the shares), and the untraced wall time."), ""]
    for p in points:
        n = p["simulations"]
        lines += [f"## {p['policy']}, B={p['batch']}, A={p['actions']}, {n} simulations", "",
                  "| phase | mctx ops/sim | mctx op time | glasszero ops/sim | glasszero op time |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for phase in PHASES:
            m, g = p["mctx"], p["glasszero"]
            lines.append(f"| {phase} | {m['ops'][phase] / n:.0f} | {m['op_s'][phase] * 1e3:.1f} ms | "
                         f"{g['ops'][phase] / n:.0f} | {g['op_s'][phase] * 1e3:.1f} ms |")
        m, g = p["mctx"], p["glasszero"]
        lines += [(f"| **all** | {sum(m['ops'].values()) / n:.0f} | {sum(m['op_s'].values()) * 1e3:.1f} ms | "
                   f"{sum(g['ops'].values()) / n:.0f} | {sum(g['op_s'].values()) * 1e3:.1f} ms |"),
                  (f"| **wall, untraced** | | {m['wall_s'] * 1e3:.1f} ms | | {g['wall_s'] * 1e3:.1f} ms "
                   f"({p['speedup']:.2f}x) |"), "",
                  (f"Tree work (everything but the network) in op time: mctx {tree_share(m):.0%}, "
                   f"glasszero {tree_share(g):.0%}; mean op time {mean_op_us(m):.1f} us (mctx), "
                   f"{mean_op_us(g):.1f} us (glasszero)."), ""]
    return "\n".join(lines) + "\n"


def tree_share(impl: dict) -> float:
    total = sum(impl["op_s"].values())
    return 1 - impl["op_s"]["network"] / total


def mean_op_us(impl: dict) -> float:
    return 1e6 * sum(impl["op_s"].values()) / sum(impl["ops"].values())


def main(args: Args) -> dict:
    started = time.perf_counter()
    if args.quick:
        args = dataclasses.replace(args, batch=16, simulations=16, actions=(4,), policies=("gumbel",), repeats=3)
    out = Path(args.out_dir or ("runs/search_profile_quick" if args.quick else str(RESULTS)))
    out.mkdir(parents=True, exist_ok=True)
    points = []
    for policy in args.policies:
        for a in args.actions:
            points.append(profile_point(policy, args.batch, a, args.simulations, args.repeats))
            print(markdown(points[-1:], ""), flush=True)
    report = {"benchmark": "search profile: mctx vs glasszero batched search, ops by phase", "device": device_name(),
              "points": points}
    report = write_results(out / "search_profile.json", report, args, started)
    cpu = report["provenance"]["machine"]["cpu"]
    header = (f"# Where a search's time goes ({device_name()}, {cpu}, jax {jax.__version__}, mctx {mctx.__version__})"
              f"\n\nWritten by `python -m benchmarks.search_profile` ({report['provenance']['commit'][:10]}).")
    (out / "search_profile.md").write_text(markdown(points, header))
    return report


if __name__ == "__main__":
    import tyro

    main(tyro.cli(Args))
