"""Search throughput: glasszero's planner vs plain mctx on identical networks, and the
networks alone (the floor).

    python -m benchmarks.search_throughput --quick     # < 1 minute on a CPU
    python -m benchmarks.search_throughput             # the full sweep

For every point (policy, batch, simulations, actions, network) it measures:
  (a) glasszero: `search.plan` with a LearnedModel and the default objective;
  (b) mctx: `mctx.gumbel_muzero_policy` / `mctx.muzero_policy` called directly
      with hand-written root/recurrent functions over the same network;
  (c) networks: the same root call + `num_simulations` sequential recurrent
      calls, no tree.
Timed calls are compiled first (compile time reported apart), wrapped in
`jax.block_until_ready`, interleaved (a, b, c, a, b, c, ...) and summarised
by their median. Writes benchmarks/results/<name>.{json,md,png}.
"""
from __future__ import annotations

import dataclasses
import itertools
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import mctx
from flax import nnx

import search
from benchmarks.provenance import RESULTS, write_results
from networks import MuZeroMLP, NetworkConfig
from networks.support import logits_to_scalar

OBSERVATION_DIM = 4  # CartPole-sized input
DISCOUNT = 0.997


@dataclass(frozen=True)
class Args:
    """Search-throughput benchmark."""

    quick: bool = False
    """A small sweep that finishes in under a minute on a CPU."""
    policies: tuple[str, ...] = ("gumbel", "muzero")
    """Search policies to measure."""
    batches: tuple[int, ...] = (1, 16, 256, 1024)
    """Batch sizes (searches run in parallel); add 8192 on a GPU."""
    simulations: tuple[int, ...] = (16, 50, 200)
    """Simulations per search."""
    actions: tuple[int, ...] = (4, 18)
    """Action-space sizes."""
    networks: tuple[str, ...] = ("mlp",)
    """Network sizes: 'mlp' (CartPole-sized MLP). A MinAtar-sized conv joins once it exists."""
    repeats: int = 5
    """Timed repeats per implementation and point (median reported)."""
    max_depth: int | None = None
    """Planner max_depth knob (None: mctx's default, the simulation count)."""
    puct_table: bool = False
    """Instead of the sweep: time PUCT implementations (mctx, glasszero, glasszero without
    tie-break noise) against mctx Gumbel at 50 simulations; writes <name>_puct.{json,md}."""
    name: str = ""
    """Output stem (default: search_<platform>, or search_quick with --quick)."""
    out_dir: str = ""
    """Folder for the JSON, markdown table and plot (default: benchmarks/results/, or
    runs/search_quick/ with --quick, so that a check leaves the committed results alone)."""

    def resolved(self) -> Args:
        return dataclasses.replace(self, out_dir=self.out_dir or ("runs/search_quick" if self.quick else str(RESULTS)))


def build_network(num_actions: int, kind: str):
    if kind != "mlp":
        raise ValueError(f"unknown network {kind!r}; available: mlp")
    net = MuZeroMLP(OBSERVATION_DIM, num_actions, num_features=4, config=NetworkConfig(), rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(net)
    params = nnx.to_pure_dict(params)
    # Give the zero-initialised heads random weights so searches are not all ties.
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    leaves = [x + 0.1 * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)]
    return graphdef, jax.tree.unflatten(treedef, leaves)


def plain_mctx_fns(graphdef):
    """Root and recurrent functions written directly against mctx (the reference)."""

    def root_fn(params, observation):
        net = nnx.merge(graphdef, params)
        latent = net.represent(observation)
        logits, value_logits = net.predict(latent)
        return mctx.RootFnOutput(prior_logits=logits, value=net.value_of(value_logits), embedding=latent)

    def recurrent_fn(params, key, action, latent):
        net = nnx.merge(graphdef, params)
        latent, reward_logits = net.dynamics(latent, action)
        logits, value_logits = net.predict(latent)
        reward = logits_to_scalar(reward_logits)
        out = mctx.RecurrentFnOutput(reward=reward, discount=jnp.full_like(reward, DISCOUNT),
                                     prior_logits=logits, value=net.value_of(value_logits))
        return out, latent

    return root_fn, recurrent_fn


def make_implementations(graphdef, num_actions: int, policy: str, num_simulations: int, max_depth):
    """-> dict name -> jitted fn(params, key, observation) returning (action, action_weights)."""
    config = search.PlannerConfig(policy=policy, num_simulations=num_simulations, max_depth=max_depth)
    model = search.LearnedModel(graphdef, (OBSERVATION_DIM,), num_actions)
    objective = search.Objective(discount=DISCOUNT)
    root_fn, recurrent_fn = plain_mctx_fns(graphdef)

    def glasszero(params, key, obs):
        out = search.plan(params, key, obs, model=model, objective=objective, config=config)
        return out.action, out.action_weights

    def plain(params, key, obs):
        root = root_fn(params, obs)
        if policy == "gumbel":
            out = mctx.gumbel_muzero_policy(params, key, root, recurrent_fn, num_simulations=num_simulations,
                                            max_depth=max_depth, max_num_considered_actions=16)
        else:
            out = mctx.muzero_policy(params, key, root, recurrent_fn, num_simulations=num_simulations,
                                     max_depth=max_depth)
        return out.action, out.action_weights

    def networks_alone(params, key, obs):
        root = root_fn(params, obs)
        actions = jnp.zeros(obs.shape[:1], jnp.int32)

        def body(i, carry):
            latent, acc = carry
            out, latent = recurrent_fn(params, key, actions + i % num_actions, latent)
            return latent, acc + out.value

        _, acc = jax.lax.fori_loop(0, num_simulations, body, (root.embedding, root.value))
        return actions, acc

    return {"glasszero": jax.jit(glasszero), "mctx": jax.jit(plain), "networks": jax.jit(networks_alone)}


def measure_point(policy, batch, num_simulations, num_actions, network, repeats, max_depth) -> dict:
    graphdef, params = build_network(num_actions, network)
    impls = make_implementations(graphdef, num_actions, policy, num_simulations, max_depth)
    obs = jax.random.normal(jax.random.PRNGKey(2), (batch, OBSERVATION_DIM))
    key = jax.random.PRNGKey(3)
    compile_s, outputs = {}, {}
    for name, fn in impls.items():
        start = time.perf_counter()
        outputs[name] = jax.block_until_ready(fn(params, key, obs))
        compile_s[name] = time.perf_counter() - start
    times = {name: [] for name in impls}
    r = 0
    # Interleaved, so drifts in machine load hit all alike; at least `repeats` rounds and
    # at least ~0.3 s of calls per implementation, so millisecond calls get many samples.
    while r < repeats or (min(sum(ts) for ts in times.values()) < 0.3 and r < 200):
        for name, fn in impls.items():
            k = jax.random.fold_in(key, r)
            start = time.perf_counter()
            jax.block_until_ready(fn(params, k, obs))
            times[name].append(time.perf_counter() - start)
        r += 1
    same_weights = bool(jnp.array_equal(outputs["glasszero"][1], outputs["mctx"][1]))
    same_actions = bool(jnp.array_equal(outputs["glasszero"][0], outputs["mctx"][0]))
    result = {"policy": policy, "batch": batch, "simulations": num_simulations, "actions": num_actions,
              "network": network, "max_depth": max_depth, "same_action_weights_as_mctx": same_weights,
              "same_actions_as_mctx": same_actions, "compile_s": compile_s, "timed_calls": r}
    for name, ts in times.items():
        median = statistics.median(ts)
        result[name] = {"median_s": median, "searches_per_s": batch / median,
                        "simulations_per_s": batch * num_simulations / median}
    result["ratio_glasszero_over_mctx"] = (result["glasszero"]["simulations_per_s"]
                                           / result["mctx"]["simulations_per_s"])
    return result


def device_name() -> str:
    dev = jax.devices()[0]
    return f"{dev.platform}:{getattr(dev, 'device_kind', '')}".strip(":")


def markdown_table(points: list[dict]) -> str:
    lines = ["| policy | batch | sims | A | glasszero sims/s | mctx sims/s | networks sims/s | ratio | same weights |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for p in points:
        lines.append(f"| {p['policy']} | {p['batch']} | {p['simulations']} | {p['actions']} | "
                     f"{p['glasszero']['simulations_per_s']:,.0f} | {p['mctx']['simulations_per_s']:,.0f} | "
                     f"{p['networks']['simulations_per_s']:,.0f} | {p['ratio_glasszero_over_mctx']:.3f} | "
                     f"{'yes' if p['same_action_weights_as_mctx'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def plot(points: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    combos = sorted({(p["policy"], p["simulations"], p["actions"]) for p in points})
    cols = min(len(combos), 4)
    rows = (len(combos) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, (policy, sims, actions) in zip(axes.flat, combos):
        sel = sorted((p for p in points if (p["policy"], p["simulations"], p["actions"]) == (policy, sims, actions)),
                     key=lambda p: p["batch"])
        for impl, style in (("glasszero", "-o"), ("mctx", "--s"), ("networks", ":^")):
            ax.plot([p["batch"] for p in sel], [p[impl]["simulations_per_s"] for p in sel], style, label=impl, ms=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{policy}, {sims} sims, A={actions}", fontsize=9)
        ax.set_xlabel("batch")
        ax.set_ylabel("simulations/s")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(combos):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def puct_variants(graphdef, num_actions: int, num_simulations: int, max_depth):
    """-> name -> jitted fn(params, key, obs) -> (action, action_weights), all through search.plan."""
    model = search.LearnedModel(graphdef, (OBSERVATION_DIM,), num_actions)
    objective = search.Objective(discount=DISCOUNT)
    configs = {
        "mctx muzero_policy": search.PlannerConfig(policy="muzero", num_simulations=num_simulations,
                                                   max_depth=max_depth, implementation="mctx"),
        "glasszero PUCT (identical)": search.PlannerConfig(policy="muzero", num_simulations=num_simulations,
                                                           max_depth=max_depth),
        "glasszero PUCT, no tie-break noise": search.PlannerConfig(
            policy="muzero", num_simulations=num_simulations, max_depth=max_depth, tie_break_noise=False),
        "Gumbel (reference)": search.PlannerConfig(policy="gumbel", num_simulations=num_simulations,
                                                   max_depth=max_depth),
    }

    def make(config):
        def fn(params, key, obs):
            out = search.plan(params, key, obs, model=model, objective=objective, config=config)
            return out.action, out.action_weights
        return jax.jit(fn)

    return {name: make(config) for name, config in configs.items()}


def measure_puct(batch: int, num_actions: int, num_simulations: int, repeats: int, max_depth) -> dict:
    graphdef, params = build_network(num_actions, "mlp")
    fns = puct_variants(graphdef, num_actions, num_simulations, max_depth)
    obs = jax.random.normal(jax.random.PRNGKey(2), (batch, OBSERVATION_DIM))
    outputs = {name: jax.block_until_ready(fn(params, jax.random.PRNGKey(3), obs)) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    for r in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(params, jax.random.fold_in(jax.random.PRNGKey(3), r), obs))
            times[name].append(time.perf_counter() - start)
    ref = outputs["mctx muzero_policy"][1]
    return {"batch": batch, "actions": num_actions, "simulations": num_simulations,
            "median_s": {name: statistics.median(ts) for name, ts in times.items()},
            "identical_to_mctx": {name: bool(jnp.array_equal(outputs[name][1], ref))
                                  for name in fns if name != "Gumbel (reference)"}}


def main_puct(args: Args, started: float) -> dict:
    rows = [measure_puct(b, a, 50, max(args.repeats, 5), args.max_depth)
            for b in (16, 256, 1024) for a in (4, 18)]
    name = (args.name or f"search_{jax.devices()[0].platform}") + "_puct"
    names = list(rows[0]["median_s"])
    lines = [f"# PUCT speed, 50 simulations ({device_name()}, jax {jax.__version__}, mctx {mctx.__version__})", "",
             "Median seconds per search; in brackets: speed-up over mctx.muzero_policy.", "",
             "| batch | A | " + " | ".join(names) + " | identical to mctx |",
             "| ---: | ---: |" + " ---: |" * len(names) + " --- |"]
    for row in rows:
        base = row["median_s"]["mctx muzero_policy"]
        cells = [f"{row['median_s'][n]:.4f} ({base / row['median_s'][n]:.2f}x)" for n in names]
        same = ", ".join(f"{n}: {'yes' if v else 'no'}" for n, v in row["identical_to_mctx"].items()
                         if n != "mctx muzero_policy")
        lines.append(f"| {row['batch']} | {row['actions']} | " + " | ".join(cells) + f" | {same} |")
        print(lines[-1], flush=True)
    report = {"benchmark": "PUCT implementations vs mctx", "device": device_name(), "rows": rows}
    out = Path(args.out_dir)
    report = write_results(out / f"{name}.json", report, args, started)
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    return report


def main(args: Args) -> dict:
    started = time.perf_counter()
    args = args.resolved()
    if args.puct_table:
        return main_puct(args, started)
    if args.quick:
        grid = [("gumbel", 1, 16, 4, "mlp"), ("gumbel", 16, 16, 4, "mlp"), ("muzero", 16, 16, 4, "mlp")]
        repeats = 5
    else:
        grid = list(itertools.product(args.policies, args.batches, args.simulations, args.actions, args.networks))
        repeats = args.repeats
    name = args.name or ("search_quick" if args.quick else f"search_{jax.devices()[0].platform}")
    out = Path(args.out_dir)

    def report_of(points: list[dict]) -> dict:
        return {
            "benchmark": "search throughput: glasszero planner vs plain mctx vs networks alone",
            "device": device_name(), "repeats": repeats, "quick": args.quick,
            "points_measured": f"{len(points)} of {len(grid)}",
            "min_ratio_glasszero_over_mctx": min(p["ratio_glasszero_over_mctx"] for p in points),
            "points": points,
        }

    def write(points: list[dict]) -> dict:
        report = write_results(out / f"{name}.json", report_of(points), args, started)
        cpu = report["provenance"]["machine"]["cpu"]
        (out / f"{name}.md").write_text(
            f"# {report['benchmark']}\n\ndevice: {report['device']} ({cpu}), jax {jax.__version__}, "
            f"mctx {mctx.__version__}, median of {repeats} interleaved repeats, {report['points_measured']} "
            f"points measured\n\n" + markdown_table(points))
        plot(points, out / f"{name}.png", f"{report['device']} ({cpu}), jax {jax.__version__}, mctx {mctx.__version__}")
        return report

    points = []
    for i, (policy, batch, sims, actions, network) in enumerate(grid):
        p = measure_point(policy, batch, sims, actions, network, repeats, args.max_depth)
        points.append(p)
        print(f"[{i + 1}/{len(grid)}] {policy:6s} B={batch:5d} sims={sims:3d} A={actions:2d}: "
              f"glasszero {p['glasszero']['simulations_per_s']:12,.0f} sims/s, "
              f"mctx {p['mctx']['simulations_per_s']:12,.0f}, networks {p['networks']['simulations_per_s']:12,.0f}, "
              f"ratio {p['ratio_glasszero_over_mctx']:.3f}", flush=True)
        report = write(points)  # after every point: a sweep cut short (a lease's limit) keeps what it measured
    return report


if __name__ == "__main__":
    import tyro

    main(tyro.cli(Args))
