"""Inspect what a trained agent optimises.

    python -m agent.tools.inspect RUN                      # the learned value vs the env's hand value
    python -m agent.tools.inspect RUN --hand-value upright --episodes 8

Writes RUN/inspect/: index.html (the objective explorer: one self-contained page with the
episodes' value timelines, the search tree at every step of the first episodes, the states
where the objectives disagree most and the value maps; agent/tools/explorer.py), report.json
and report.md (the objectives, learned vs hand value correlation, how often the two
objectives choose the same action on the same states, the feature decoder's error, and the
world model's drift: that error k = 0..--drift-depth steps into the model's own unroll),
values.png (learned vs hand value along the trajectories), value_maps.png (each objective's
value over a 2-D slice of states, for envs that define one) and tree.dot, tree.png and
tree.svg (drawn without Graphviz) of the first search.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import tyro

import envs
from agent.algorithm.rollout import (
    greedy_planner,
    reset_episodes,
    search_step,
    trajectory,
)
from agent.host.checkpoint import load_run, seed_index
from agent.objectives import make_objective
from agent.tools.cli import run
from agent.tools.explorer import page_data, write_page
from search.render import write_tree


def collect_trajectories(agent, params, hand_objective, *, episodes: int, max_steps: int, num_simulations: int,
                         seed: int, tree_episodes: int = 2) -> dict:
    """Acts with the run's own objective; at every state also asks the hand objective.

    Returns numpy arrays [T, episodes(, F)]: alive, true features, decoded features,
    learned value (value head), hand value of the true and of the decoded features,
    the actions of both objectives; "tree": the first search's tree ([episodes, ...]);
    "trees": every search of the first `tree_episodes` episodes ([T, tree_episodes, ...]);
    "start_states": the episodes' first env states.
    """
    env, model = agent.env, agent.model
    planner = greedy_planner(num_simulations, agent.config.planner)
    hand_fn = hand_objective.value.fn if hasattr(hand_objective.value, "fn") else None

    def record(env_state, ts, own, key):
        other = search_step(model, params, hand_objective, planner, env_state, ts, key)
        root = model.root(params, ts.observation)
        decoded = model.features(params, root.embedding)
        true = jax.vmap(env.features)(env_state)
        no_hand = jnp.zeros(true.shape[:1])
        return {
            "alive": ~ts.done,
            "observation": ts.observation,
            "true_features": true,
            "decoded_features": decoded,
            "learned_value": root.learned_value,
            "hand_value_true": jax.vmap(hand_fn)(true) if hand_fn else no_hand,
            "hand_value_decoded": jax.vmap(hand_fn)(decoded) if hand_fn else no_hand,
            "own_action": own.action,
            "hand_action": other.action,
            "tree": own.tree.replace(embeddings=None),  # the drawing needs no latents
        }

    run = jax.jit(lambda p, k: trajectory(env, model, p, agent.objective, planner, k, episodes, max_steps,
                                          record)[0])
    records = run(params, jax.random.PRNGKey(seed))
    out = {k: np.asarray(v) for k, v in records.items() if k != "tree"}
    out["tree"] = jax.tree.map(lambda x: x[0], records["tree"])  # the first step's search
    out["trees"] = jax.tree.map(lambda x: np.asarray(x[:, :tree_episodes]), records["tree"])
    out["start_states"] = reset_episodes(env, jax.random.PRNGKey(seed), episodes)[0]
    return out


def model_drift(model, params, records: dict, depth: int) -> np.ndarray:
    """[depth + 1, F] mean |decoded - true| of the features k = 0..depth steps into the learned
    model's own unroll, started from the representation of every visited state and fed the actions
    the agent took (k = 0: the decoder on the representation itself). A pair counts where step t + k
    is still in the episode; a depth no episode reaches is NaN.

    The search plans that many steps through the model without seeing an observation: this says how
    far the world it plans in drifts from the env's, feature by feature."""
    alive = records["alive"].astype(bool)  # [T, E]
    steps, episodes = alive.shape

    def pad(x):  # [T, E, ...] -> [T + depth, E, ...]: step t + k exists for every start t
        return np.concatenate([x, np.zeros((depth,) + x.shape[1:], x.dtype)])

    actions, features, live = pad(records["own_action"]), pad(records["true_features"]), pad(alive)
    observations = records["observation"].reshape(steps * episodes, *records["observation"].shape[2:])

    def unroll(params):
        root = model.root(params, observations)

        def step(embedding, k):
            action = jax.lax.dynamic_slice_in_dim(actions, k - 1, steps).reshape(steps * episodes)
            _, _, child = model.step(params, embedding, action)
            return child.embedding, model.features(params, child.embedding)

        _, decoded = jax.lax.scan(step, root.embedding, jnp.arange(1, depth + 1))
        return jnp.concatenate([model.features(params, root.embedding)[None], decoded])

    decoded = np.asarray(jax.jit(unroll)(params)).reshape(depth + 1, steps, episodes, -1)
    errors = np.full((depth + 1, decoded.shape[-1]), np.nan)
    for k in range(depth + 1):
        pairs = alive & live[k:k + steps]
        if pairs.any():
            errors[k] = np.abs(decoded[k] - features[k:k + steps])[pairs].mean(axis=0)
    return errors


def value_maps(agent, params, hand_objective, hand_name: str, start_states, count: int = 2,
               titles: list[str] | None = None) -> list[dict]:
    """The learned value and the hand value over the env's value-map slice (envs.base.ValueMap)
    around each of the first `count` of `start_states` (env states with a leading axis), titled
    `titles` (default: "start of episode i"); [] for envs without one.

    Each map: {title, x_label, y_label, x, y, marks, panels: [{name, values [rows][cols], None
    on closed cells}]}.
    """
    hand_fn = hand_objective.value.fn if hasattr(hand_objective.value, "fn") else None
    env, model = agent.env, agent.model
    maps = []
    for e in range(min(count, int(jax.tree.leaves(start_states)[0].shape[0]))):
        grid = env.value_map(jax.tree.map(lambda x, e=e: x[e], start_states))
        if grid is None:
            return []
        rows, cols = grid.open.shape
        flat = jax.tree.map(lambda x, n=rows * cols: x.reshape(n, *x.shape[2:]), grid.states)
        observations = jax.vmap(env.observation)(flat)
        learned = np.asarray(model.root(params, observations).learned_value).reshape(rows, cols)
        panels = [("learned value", learned)]
        if hand_fn is not None:
            hand = np.asarray(jax.vmap(hand_fn)(jax.vmap(env.features)(flat))).reshape(rows, cols)
            panels.append((f"{hand_name} (true features)", hand))
        open_cells = np.asarray(grid.open)
        maps.append({
            "title": titles[e] if titles else f"start of episode {e}", "x_label": grid.x_label, "y_label": grid.y_label,
            "x": list(grid.x), "y": list(grid.y), "marks": [{"row": r, "col": c, "label": label}
                                                             for r, c, label in grid.marks],
            "panels": [{"name": name, "values": [[float(v) if open_cells[i, j] else None for j, v in enumerate(row)]
                                                 for i, row in enumerate(values)]} for name, values in panels],
        })
    return maps


def plot_value_maps(maps: list[dict], path: Path) -> None:
    """value_maps' pictures, one row per map, one panel per objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(len(m["panels"]) for m in maps)
    fig, axes = plt.subplots(len(maps), columns, figsize=(4.2 * columns, 3.4 * len(maps)), squeeze=False)
    for row, m in zip(axes, maps, strict=True):
        for ax, panel in zip(row, m["panels"], strict=False):
            values = np.array([[np.nan if v is None else v for v in line] for line in panel["values"]])
            image = ax.imshow(values, cmap="viridis", aspect="auto")
            fig.colorbar(image, ax=ax, fraction=0.046)
            for mark in m["marks"]:
                ax.text(mark["col"], mark["row"], mark["label"], ha="center", va="center", color="white",
                        fontweight="bold")
            ax.set_title(f"{m['title']}: {panel['name']}", fontsize=9)
            ax.set_xticks(range(len(m["x"]))[::max(1, len(m["x"]) // 6)])
            ax.set_xticklabels(m["x"][::max(1, len(m["x"]) // 6)], fontsize=7)
            ax.set_yticks(range(len(m["y"]))[::max(1, len(m["y"]) // 6)])
            ax.set_yticklabels(m["y"][::max(1, len(m["y"]) // 6)], fontsize=7)
            ax.set_xlabel(m["x_label"], fontsize=8)
            ax.set_ylabel(m["y_label"], fontsize=8)
        for ax in row[len(m["panels"]):]:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def summarize(records: dict, feature_names: tuple[str, ...]) -> dict:
    alive = records["alive"].astype(bool)
    learned = records["learned_value"][alive]
    hand_true = records["hand_value_true"][alive]
    err = np.abs(records["decoded_features"] - records["true_features"])[alive]
    def corr(a, b):
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else None
    return {
        "states": int(alive.sum()),
        "episode_lengths": alive.sum(axis=0).tolist(),
        "corr_learned_vs_hand_true": corr(learned, hand_true),
        "corr_learned_vs_hand_decoded": corr(learned, records["hand_value_decoded"][alive]),
        "same_action_rate": float(np.mean(records["own_action"][alive] == records["hand_action"][alive])),
        "decoder_mean_abs_error": {name: float(err[:, i].mean()) for i, name in enumerate(feature_names)},
        "decoder_feature_scale": {name: float(np.abs(records["true_features"][alive][:, i]).mean())
                                  for i, name in enumerate(feature_names)},
    }


def drift_report(errors: np.ndarray, feature_names: tuple[str, ...]) -> dict:
    """model_drift's [depth + 1, F] errors as {"depth": [0..D], "mean_abs_error": {feature: [per depth]}}
    (None where no episode reached that depth)."""
    as_json = lambda v: None if np.isnan(v) else float(v)
    return {"depth": list(range(len(errors))),
            "mean_abs_error": {name: [as_json(v) for v in errors[:, i]] for i, name in enumerate(feature_names)}}


def drift_line(drift: dict) -> str:
    """report.md's line: each feature's error at depths 0, 1, 2, 5, 10 (those the report has)."""
    shown = [k for k in (0, 1, 2, 5, 10) if k < len(drift["depth"])]
    cells = lambda errs: " / ".join("-" if errs[k] is None else f"{errs[k]:.3g}" for k in shown)
    return (f"- world model drift, mean |decoded - true feature| {' / '.join(map(str, shown))} steps into its own "
            f"unroll along the actions taken: " + ", ".join(f"{name} {cells(errs)}"
                                                            for name, errs in drift["mean_abs_error"].items()))


def plot_values(records: dict, path: Path, hand_name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alive = records["alive"].astype(bool)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].scatter(records["hand_value_true"][alive], records["learned_value"][alive], s=3, alpha=0.4)
    axes[0].set_xlabel(f"hand value '{hand_name}' (true features)")
    axes[0].set_ylabel("learned value (value head)")
    axes[0].grid(alpha=0.3)
    length = int(alive[:, 0].sum())
    t = np.arange(length)
    axes[1].plot(t, records["learned_value"][:length, 0], label="learned value")
    axes[1].plot(t, records["hand_value_true"][:length, 0], label=f"{hand_name} (true features)")
    axes[1].plot(t, records["hand_value_decoded"][:length, 0], "--", label=f"{hand_name} (decoded features)")
    axes[1].set_xlabel("step of episode 0")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def inspect_run(run_dir: str | Path, *, hand_value: str | None = None, episodes: int = 8,
                max_steps: int | None = None, num_simulations: int | None = None, seed: int = 0,
                run_seed: int | None = None, tree_episodes: int = 2, drift_depth: int = 10) -> dict:
    """Writes RUN/inspect/ (index.html, report.json, report.md, the tree, values.png,
    value_maps.png) for seed number `run_seed` of the run (None: its first) and returns the
    report. The page keeps the search tree of every step of the first `tree_episodes` episodes."""
    run_dir = Path(run_dir)
    if tree_episodes < 0:
        raise ValueError(f"--tree-episodes {tree_episodes}: must be >= 0 (0 keeps no trees in the page)")
    if drift_depth < 0:
        raise ValueError(f"--drift-depth {drift_depth}: must be >= 0 (0 measures the decoder alone)")
    agent, params = load_run(run_dir, run_seed)
    envs.require_jax_env(agent.env, "agent.tools.inspect (hand values on exact features, value maps)")
    index = seed_index(agent, run_seed)
    names = list(envs.hand_values(agent.env.name))
    if hand_value is None:
        if not names:
            raise ValueError(f"env {agent.env.name!r} ships no hand value; pass --hand-value or register one")
        hand_value = names[0]
    hand_objective = make_objective(agent.env.name, hand_value, agent.config.discount)
    sims = num_simulations or agent.config.eval.num_simulations
    records = collect_trajectories(agent, params, hand_objective, episodes=episodes,
                                   max_steps=max_steps or agent.env.max_steps, num_simulations=sims, seed=seed,
                                   tree_episodes=tree_episodes)
    # A multi-seed run keeps one report per inspected seed.
    out_dir = run_dir / "inspect" if agent.config.seeds == 1 else run_dir / "inspect" / f"seed_{agent.seeds[index]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "run": str(run_dir),
        "objective": str(agent.objective),
        "compared_with": str(hand_objective),
        "model": "learned world model (hand value reads the feature decoder)",
        "num_simulations": sims,
        **summarize(records, agent.env.feature_names),
        "model_drift": drift_report(model_drift(agent.model, params, records, drift_depth), agent.env.feature_names),
        "report_dir": str(out_dir),
    }
    names_a = {"cartpole": ("left", "right"), "chain": ("left", "right", "take")}.get(agent.env.name)
    report["tree_files"] = [str(p) for p in write_tree(records["tree"], out_dir / "tree", action_names=names_a)]
    plot_values(records, out_dir / "values.png", hand_value)
    maps = value_maps(agent, params, hand_objective, hand_value, records["start_states"])
    report["value_map_file"] = None
    if maps:
        plot_value_maps(maps, out_dir / "value_maps.png")
        report["value_map_file"] = str(out_dir / "value_maps.png")
    report["page"] = str(out_dir / "index.html")
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    action_names = names_a or tuple(str(a) for a in range(agent.env.num_actions))
    write_page(out_dir / "index.html", page_data(records, report, hand_name=hand_value, action_names=action_names,
                                                 trees=records["trees"], tree_episodes=tree_episodes,
                                                 value_maps=maps),
               title=f"What {run_dir.name} optimises: {report['objective']} vs {hand_value}")
    lines = [f"# What {run_dir.name} optimises", "", f"- acting objective: `{report['objective']}`",
             f"- compared with: `{report['compared_with']}`", (f"- states: {report['states']} "
             f"(episode lengths {report['episode_lengths']})"),
             f"- correlation, learned value vs hand value on true features: {report['corr_learned_vs_hand_true']}",
             (f"- correlation, learned value vs hand value on decoded features: "
             f"{report['corr_learned_vs_hand_decoded']}"),
             f"- same action chosen by both objectives: {100 * report['same_action_rate']:.1f}% of states",
             "- feature decoder mean |error| (vs mean |feature|): " + ", ".join(
                 f"{k} {v:.3g} ({report['decoder_feature_scale'][k]:.3g})"
                 for k, v in report["decoder_mean_abs_error"].items()),
             drift_line(report["model_drift"])]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    return report


@dataclass(frozen=True)
class Args:
    """Inspect what a trained run optimises, next to a hand-specified objective."""

    run: tyro.conf.Positional[str]
    """Run folder written by train.py."""
    hand_value: str | None = None
    """Hand value to compare with (default: the env's first, e.g. cartpole: upright)."""
    episodes: int = 8
    """Evaluation trajectories."""
    max_steps: int | None = None
    """Steps per trajectory (default: the env's limit)."""
    num_simulations: int | None = None
    """Simulations per search (default: the run's eval setting)."""
    seed: int = 0
    """Seed of the inspected episodes."""
    run_seed: int | None = None
    """Which trained seed of a multi-seed run (--seeds) to inspect (default: its first)."""
    tree_episodes: int = 2
    """Episodes whose search tree at every step the page keeps (each costs page size)."""
    drift_depth: int = 10
    """How many steps of the learned model's own unroll the world-model drift is measured over."""


def main(args: Args) -> None:
    report = inspect_run(args.run, hand_value=args.hand_value, episodes=args.episodes, max_steps=args.max_steps,
                         num_simulations=args.num_simulations, seed=args.seed,
                         run_seed=args.run_seed, tree_episodes=args.tree_episodes, drift_depth=args.drift_depth)
    print((Path(report["report_dir"]) / "report.md").read_text())
    extra = [report["value_map_file"]] if report["value_map_file"] else []
    print("files:", ", ".join(report["tree_files"] + extra + ["values.png", "report.json"]))
    print(f"open the objective explorer: {report['page']}")


if __name__ == "__main__":
    run(Args, main)
