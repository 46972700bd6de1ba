"""How the gridworld agents fail on their own training levels: a diagnosis of the sample-efficiency
study's final parameters (`python -m benchmarks.sample_efficiency --env coin_at_end` keeps its runs
under --runs-dir).

    python -m benchmarks.gridworld_failures --env coin_at_end --runs-dir runs/sample_efficiency_coin_at_end

Per variant and seed, from the run's last checkpoint (no training here), on `--levels`
training-distribution levels (the same levels for every seed and search):
  - 'study': the greedy search the study evaluates with (16 simulations, no root noise): how many
    levels it solves, and how many of its failures stand on a square they stood on before. The
    level and the search are both deterministic, so a revisit repeats forever: that episode is
    lost to a loop, however near the goal it is;
  - 'hand value': the same search scoring its leaves with the hand-written shortest-path value
    (`to_goal`) of the learned model's decoded features: a value without errors on the learned
    model, so what it still fails is the model's doing;
  - 'study, one step' and 'hand value, one step': the same two searches cut to the root's children
    (max_depth 1): each legal action scored by one step of the learned model and the value of where
    it leads. If these fail as often as the full searches, the errors are in the model's one-step
    predictions, not deeper in the tree (where it also imagines moves that the env would refuse);
  - 'acting': the search the agent trains with (Gumbel noise at the root), which no loop holds
    forever.
And, without the learned model's dynamics ('value with the true moves'): the agent placed on every
open square of `--value-levels` training levels (drawn from --seed, not the searches' levels), each
legal move scored by the env's own next
square, reward 1 onto the goal and else discount x the value head's value of that square's
observation: how often the best-scored move lies on a shortest path, against the same choice by the
decoded distance to the goal (the feature `to_goal` reads), and the value head's mean error against
the optimal value discount^(d - 1) at distance d.
Writes benchmarks/results/NAME.{json,md}.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from agent.algorithm.iteration import Agent
from agent.algorithm.rollout import greedy_planner, trajectory
from agent.config import load_config
from agent.host.checkpoint import restore_run
from agent.objectives import make_objective
from benchmarks.provenance import RESULTS, write_results
from benchmarks.runs import study_run
from benchmarks.sample_efficiency import GRIDWORLDS, PRESET_VARIANTS
from envs.gridworlds import TRUE_GOAL


@dataclass(frozen=True)
class Args:
    """Why the gridworld agents miss their goal on training levels: loops, model or value."""

    env: str = "coin_at_end"
    """The gridworld whose study runs are read: coin_at_end or cheese_in_corner."""
    runs_dir: str = ""
    """The sample-efficiency study's runs (one folder per variant); empty: runs/sample_efficiency_<env>,
    the study's own default."""
    variants: tuple[str, ...] = ()
    """Variants to diagnose (empty: the one the env's preset is, sample_efficiency.PRESET_VARIANTS)."""
    levels: int = 512
    """Training-distribution levels per seed and search."""
    seed: int = 777
    """Seed of the levels."""
    value_levels: int = 256
    """Levels whose every open square scores the value head with the true moves (0: skip)."""
    name: str = ""
    """Output stem (empty: gridworld_failures_<env>)."""


def revisits(positions: np.ndarray, ended: np.ndarray) -> np.ndarray:
    """[T, N, 2] the agent's square before each step, [T, N] whether the episode had already ended
    before that step (the timestep's done flag as the search saw it) -> [N] bool: within the episode,
    the agent stood on a square it had stood on before."""
    steps, episodes = ended.shape
    looped = np.zeros(episodes, bool)
    for i in range(episodes):
        seen = set()
        for t in range(steps):
            if ended[t, i]:  # the absorbing state after the end, not a step of the episode
                break
            square = (int(positions[t, i, 0]), int(positions[t, i, 1]))
            if square in seen:
                looped[i] = True
                break
            seen.add(square)
    return looped


def play(agent: Agent, params, objective, planner, key: jax.Array, levels: int):
    """Every seed's episodes on the same `levels` levels: ([S, N] outcome, [S, N] revisited a square)."""
    env = agent.env

    def record(env_state, ts, out, record_key):  # before the step: ts.done says the episode had ended
        return {"agent": env_state.inner.agent, "ended": ts.done}

    def one(p):
        records, final = trajectory(env, agent.model, p, objective, planner, key, levels, env.max_steps, record)
        return jax.vmap(env.outcome)(final), records

    outcome, records = jax.jit(jax.vmap(one))(params)
    outcome, positions, ended = np.asarray(outcome), np.asarray(records["agent"]), np.asarray(records["ended"])
    looped = np.stack([revisits(positions[s], ended[s]) for s in range(outcome.shape[0])])
    return outcome, looped


class EverySquare(NamedTuple):
    """The agent placed on every square of L levels, and where each of its 4 moves leads."""

    observations: jax.Array  # [L, H*W, O]
    next_square: jax.Array  # [L, H*W, 4] int: the flat index (row x W + col) each move leads to
    legal: jax.Array  # [L, H*W, 4] bool: on the grid and open
    onto_goal: jax.Array  # [L, H*W, 4] bool: the move steps onto the goal (reward 1, the episode ends)
    shortest: jax.Array  # [L, H*W, 4] bool: the move shortens the distance to the goal by one
    distance: jax.Array  # [L, H*W] shortest-path steps to the goal
    counted: jax.Array  # [L, H*W] bool: open and not the goal (where a move is chosen)


def every_square(env, level) -> EverySquare:
    """`level` (a batch of L gridworld levels) -> EverySquare, from the env's own moves.

    Reads GridWorld's `_moves` and `_observation` on levels with the agent moved: the public
    `value_map` places the agent the same way but one level at a time, outside jit."""
    rows, cols = jnp.meshgrid(jnp.arange(env.height), jnp.arange(env.width), indexing="ij")
    squares = jnp.stack([rows.ravel(), cols.ravel()], axis=-1).astype(level.agent.dtype)  # [H*W, 2]

    def one_level(lv):
        placed = jax.vmap(lambda square: lv.replace(agent=square))(squares)
        targets, legal = jax.vmap(env._moves)(placed)  # [H*W, 4, 2], [H*W, 4]
        return jax.vmap(env._observation)(placed), targets[..., 0] * env.width + targets[..., 1], legal

    observations, next_square, legal = jax.vmap(one_level)(level)
    goal = level.goal[:, 0] * env.width + level.goal[:, 1]  # [L]
    distance = level.goal_distance_map.reshape(goal.shape[0], -1)
    return EverySquare(observations=observations, next_square=next_square, legal=legal,
                       onto_goal=next_square == goal[:, None, None],
                       shortest=at_next_square(distance, next_square) == distance[..., None] - 1,
                       distance=distance,
                       counted=~level.walls.reshape(distance.shape) & (jnp.arange(distance.shape[1]) != goal[:, None]))


def at_next_square(per_square: jax.Array, next_square: jax.Array) -> jax.Array:
    """[L, H*W] a quantity per square, [L, H*W, 4] next squares -> [L, H*W, 4] its value there."""
    levels = per_square.shape[0]
    return jnp.take_along_axis(per_square[:, :, None], next_square.reshape(levels, -1, 1),
                               axis=1).reshape(next_square.shape)


def shortest_move_fraction(score: jax.Array, grid: EverySquare) -> jax.Array:
    """[L, H*W, 4] a score per move -> [] the fraction of counted squares whose best-scored legal
    move lies on a shortest path."""
    best = jnp.argmax(jnp.where(grid.legal, score, -jnp.inf), axis=-1)
    right = jnp.take_along_axis(grid.shortest, best[..., None], axis=-1)[..., 0]
    return counted_mean(right, grid)


def counted_mean(x: jax.Array, grid: EverySquare) -> jax.Array:
    """[L, H*W] -> [] its mean over the counted squares."""
    return jnp.sum(jnp.where(grid.counted, x, 0.0)) / jnp.sum(grid.counted)


def value_scores(value: jax.Array, grid: EverySquare, discount: float) -> jax.Array:
    """[L, H*W] a value per square -> [L, H*W, 4] r + discount x v(next square); onto the goal, r = 1 and
    the episode ends."""
    return jnp.where(grid.onto_goal, 1.0, discount * at_next_square(value, grid.next_square))


def value_with_true_moves(agent: Agent, params, key: jax.Array, levels: int) -> dict:
    """Per seed: the fraction of open, non-goal squares of `levels` training levels whose best move,
    scored r + discount x v(next square) with the env's own moves, lies on a shortest path; the
    same with the decoded distance to the goal (lower is better); the value head's mean error
    against the optimal discount^(d - 1)."""
    env, model, discount = agent.env, agent.model, agent.config.discount
    states, _ = jax.vmap(env.reset)(jax.random.split(key, levels))
    grid = every_square(env, states.inner)
    distance_feature = env.feature_names.index("goal_distance")

    def one_seed(p):
        root = model.root(p, grid.observations.reshape(-1, grid.observations.shape[-1]))
        value = root.learned_value.reshape(grid.distance.shape)
        decoded = model.features(p, root.embedding)[:, distance_feature].reshape(grid.distance.shape)
        by_decoded = jnp.where(grid.onto_goal, jnp.inf, -at_next_square(decoded, grid.next_square))
        return (shortest_move_fraction(value_scores(value, grid, discount), grid),
                shortest_move_fraction(by_decoded, grid),
                counted_mean(value - discount ** (grid.distance - 1.0), grid))

    by_value, by_decoded, error = (np.asarray(x) for x in jax.jit(jax.vmap(one_seed))(params))
    return {"levels": levels, "squares_per_seed": int(np.asarray(grid.counted).sum()),
            "shortest_move_by_value": by_value.round(4).tolist(),
            "shortest_move_by_decoded_distance": by_decoded.round(4).tolist(),
            "value_error_mean": error.round(4).tolist()}


def diagnose(run: Path, levels: int, seed: int, value_levels: int) -> dict:
    agent, state, host = restore_run(run)
    config = agent.config
    params, key = state.learner.params, jax.random.PRNGKey(seed)
    greedy = greedy_planner(config.eval.num_simulations, config.planner)
    hand = make_objective(config.env, "to_goal", config.discount)
    one_step = dataclasses.replace(greedy, max_depth=1)
    searches = {"study": (agent.objective, greedy), "hand value": (hand, greedy),
                "study, one step": (agent.objective, one_step), "hand value, one step": (hand, one_step),
                "acting": (agent.objective, config.planner)}
    by_search = {}
    for name, (objective, planner) in searches.items():
        outcome, looped = play(agent, params, objective, planner, key, levels)
        failed = outcome != TRUE_GOAL
        by_search[name] = {"success": (1.0 - failed.mean(axis=1)).round(4).tolist(),
                           "failures": failed.sum(axis=1).tolist(),
                           "failures_revisiting": (failed & looped).sum(axis=1).tolist()}
        print(run.name, name, by_search[name], flush=True)
    report = {"run": str(run), "env_steps": host["step"], "seeds": agent.seeds,
              "num_simulations": config.eval.num_simulations, "by_search": by_search}
    if value_levels > 0:
        report["value_with_true_moves"] = value_with_true_moves(agent, params, key, value_levels)
        print(run.name, "value with the true moves", report["value_with_true_moves"], flush=True)
    return report


def write_markdown(report: dict, path: Path) -> None:
    levels = report["levels"]
    lines = [(f"# How {report['env']} agents fail on their training levels (final parameters of the "
             f"sample-efficiency study's runs)"), "",
             (f"{levels} training-distribution levels per seed (the same for every seed and search). 'study': the "
             f"greedy search the study evaluates with; 'hand value': that search scoring leaves with the shortest-path "
             f"value to_goal of the learned model's decoded features; 'one step': cut to the root's children "
             f"(max_depth 1); 'acting': the search the agent trains with "
             f"(Gumbel noise at the root). 'revisiting': failed episodes whose agent stood on a square it had stood on "
             f"before (under a deterministic search on a deterministic level, a loop that never ends)."), ""]
    for v in report["variants"]:
        lines += [f"## {v['variant']} (env step {v['env_steps']})", "",
                  "| search | " + " | ".join(f"seed {s}" for s in v["seeds"]) + " | mean success | failures | "
                  "revisiting |",
                  "| --- | " + " | ".join("---:" for _ in v["seeds"]) + " | ---: | ---: | ---: |"]
        for name, r in v["by_search"].items():
            lines.append(f"| {name} | " + " | ".join(f"{x:.3f}" for x in r["success"])
                         + f" | {np.mean(r['success']):.3f} | {sum(r['failures'])} | {sum(r['failures_revisiting'])} |")
        lines.append("")
        true_moves = v.get("value_with_true_moves")
        if true_moves:
            lines += [(f"Value with the true moves ({true_moves['levels']} levels, every open square but the goal: "
                       f"{true_moves['squares_per_seed']} per seed): how often the best-scored move lies on a "
                       f"shortest path, and the value head's mean error against discount^(d - 1)."), "",
                      "| scored by | " + " | ".join(f"seed {s}" for s in v["seeds"]) + " | mean |",
                      "| --- | " + " | ".join("---:" for _ in v["seeds"]) + " | ---: |"]
            for label, field, fmt in (("value head", "shortest_move_by_value", ".3f"),
                                      ("decoded distance", "shortest_move_by_decoded_distance", ".3f"),
                                      ("value error (mean)", "value_error_mean", "+.3f")):
                xs = [*true_moves[field], np.mean(true_moves[field])]
                lines.append(f"| {label} | " + " | ".join(format(x, fmt) for x in xs) + " |")
            lines.append("")
    p = report["provenance"]
    lines.append(f"Commit {p.get('commit')}; command `{p.get('command')}`; {p['machine'].get('cpu')}.")
    path.write_text("\n".join(lines) + "\n")


def main(args: Args) -> dict:
    if args.env not in GRIDWORLDS:
        raise SystemExit(f"error: --env must be one of {', '.join(GRIDWORLDS)}, not {args.env!r}")
    if args.levels <= 0:
        raise SystemExit(f"error: --levels must be >= 1, not {args.levels}")
    if args.value_levels < 0:
        raise SystemExit(f"error: --value-levels must be >= 0 (0 skips), not {args.value_levels}")
    started = time.perf_counter()
    runs_dir = args.runs_dir or f"runs/sample_efficiency_{args.env}"
    variants = []
    for variant in args.variants or (PRESET_VARIANTS[args.env],):
        run = study_run(runs_dir, variant, args.env)
        trained = load_config(run).env
        if trained != args.env:
            raise SystemExit(f"error: {run} trained {trained}, not --env {args.env}")
        variants.append({"variant": variant, **diagnose(run, args.levels, args.seed, args.value_levels)})
    name = args.name or f"gridworld_failures_{args.env}"
    report = write_results(RESULTS / f"{name}.json", {"benchmark": "gridworld failure modes", "env": args.env,
                                                      "levels": args.levels, "variants": variants}, args, started)
    write_markdown(report, RESULTS / f"{name}.md")
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
