"""How CartPole evaluations fail after a seed has learnt: a diagnosis of the sample-efficiency
study's final parameters (benchmarks/sample_efficiency.py keeps its runs under --runs-dir).

    python -m benchmarks.failure_modes --runs-dir runs/sample_efficiency --variants target_25 c_scale_0.02

Per variant and seed, from the run's last checkpoint (no training here):
  - the 20-episode greedy evaluation the study runs (16 simulations, the run's Q scaling), and for
    its failed episodes (return < 500) how they ended: the cart out of bounds (|x| > 2.4) or the
    pole past 12 degrees, and their mean length;
  - the same parameters under other searches: mctx's per-node Q scaling (16 and 64 simulations),
    c_scale 1 (16 and 64), PUCT with 64 simulations taking the most visited action, and the policy
    prior alone (argmax, no search), to see whether any search rescues a failing seed;
  - the learned value alone with a perfect model: one step of lookahead on the TRUE simulator, each
    action scored by reward + discount x the learned value of the true next observation (0 past a
    fall). If the value head had learnt the value of good play this would balance the pole; far
    below 'study', the search's lookahead through the learned model makes up for a value head that
    cannot tell neighbouring states apart;
  - along the study search's own episodes, whether the learned value foresees the failure (its
    error against the realized discounted return-to-go of failed episodes, and its value 100 steps
    before the end) and how far apart the two actions' Q-values are at the root (what the search
    has to steer by).
Writes benchmarks/results/NAME.{json,md}.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from agent.algorithm.iteration import Agent
from agent.algorithm.rollout import greedy_planner, reset_episodes, rollout, trajectory
from agent.host.checkpoint import restore_run
from benchmarks.provenance import RESULTS, write_results
from benchmarks.runs import study_run
from envs.cartpole import THETA_LIMIT, X_LIMIT
from search.planner import PlannerConfig


@dataclass(frozen=True)
class Args:
    """Why CartPole evaluations fail: end causes and other searches on a study's final parameters."""

    runs_dir: str = "runs/sample_efficiency"
    """The sample-efficiency study's runs (one folder per variant)."""
    variants: tuple[str, ...] = ("target_25", "c_scale_0.02")
    """Variants to diagnose."""
    episodes: int = 20
    """Evaluation episodes per seed and search."""
    name: str = "failure_modes"
    """Output stem."""


def searches(planner: PlannerConfig) -> dict[str, PlannerConfig]:
    """The evaluation searches to compare, by name; 'study' is the one the study evaluates with."""
    study = greedy_planner(16, planner)
    return {"study": study,
            "per_node_q_16": dataclasses.replace(study, gumbel_q_scaling="siblings"),
            "per_node_q_64": dataclasses.replace(study, gumbel_q_scaling="siblings", num_simulations=64),
            "c_scale_1_16": dataclasses.replace(study, gumbel_value_scale=1.0),
            "c_scale_1_64": dataclasses.replace(study, gumbel_value_scale=1.0, num_simulations=64),
            "puct_64": PlannerConfig(policy="muzero", num_simulations=64, dirichlet_fraction=0.0, temperature=0.0)}


def prior_only_returns(agent: Agent, params, keys: jax.Array, episodes: int) -> np.ndarray:
    """[S, episodes] returns of acting by the policy prior's argmax (no search)."""
    env = agent.env

    def one(p, key):
        env_state, ts, _ = reset_episodes(env, key, episodes)

        def body(carry, _):
            env_state, ts, total = carry
            action = jnp.argmax(agent.model.root(p, ts.observation).prior_logits, axis=-1)
            env_state, ts = jax.vmap(env.step)(env_state, action)
            return (env_state, ts, total + ts.reward), None

        (_, _, total), _ = jax.lax.scan(body, (env_state, ts, jnp.zeros(episodes)), None, length=env.max_steps)
        return total

    return np.asarray(jax.jit(jax.vmap(one))(params, keys))


def value_one_step_returns(agent: Agent, params, keys: jax.Array, episodes: int) -> np.ndarray:
    """[S, episodes] returns of greedy one-step lookahead on the true simulator scored by the learned
    value: argmax_a r(s, a) + discount x (1 - terminated) x v(true next observation)."""
    env, discount = agent.env, agent.config.discount

    def one(p, key):
        env_state, ts, _ = reset_episodes(env, key, episodes)

        def action_values(env_state):
            q = []
            for action in range(env.num_actions):
                _, nxt = jax.vmap(env.step)(env_state, jnp.full((episodes,), action))
                q.append(nxt.reward + discount * (1.0 - nxt.terminated) * agent.model.root(p, nxt.observation).learned_value)
            return jnp.stack(q, axis=-1)

        def body(carry, _):
            env_state, ts, total, alive = carry
            env_state, ts = jax.vmap(env.step)(env_state, jnp.argmax(action_values(env_state), axis=-1))
            return (env_state, ts, total + alive * ts.reward, alive * (1.0 - ts.done)), None

        init = (env_state, ts, jnp.zeros(episodes), jnp.ones(episodes))
        (_, _, total, _), _ = jax.lax.scan(body, init, None, length=env.max_steps)
        return total

    return np.asarray(jax.jit(jax.vmap(one))(params, keys))


def value_calibration(agent: Agent, params, keys: jax.Array, episodes: int) -> list[dict]:
    """Per seed, along the study search's own episodes (same starts, same searches): does the learned
    value foresee a failure, and how far apart are the two actions' Q-values at the root?

    Over the steps of failed episodes (length T < 500), the learned value v(s_t) is compared with the
    realized discounted return-to-go G_t = (1 - discount^(T - t)) / (1 - discount) (CartPole pays 1 per
    step). 'v 100 steps before the end' averages v(s_{T-100}) over failed episodes with T >= 100, where
    G = (1 - discount^100) / (1 - discount). 'v at the start' averages v(s_0) over all episodes: for play
    that never fails (the 500-step limit bootstrapped) it would be 1 / (1 - discount). 'root gap' is |Q(left) - Q(right)| at the root of every
    search of every episode, 'prior flipped' the fraction of those searches whose chosen action is not
    the policy prior's argmax."""
    env, discount = agent.env, agent.config.discount
    planner = searches(agent.config.planner)["study"]

    def one(p, key):
        def record(env_state, ts, out, record_key):
            q = out.tree.qvalues(jnp.zeros(ts.reward.shape, jnp.int32))  # [episodes, A] at the root
            prior = jnp.argmax(out.tree.children_prior_logits[:, 0], axis=-1)
            return {"alive": ~ts.done, "value": agent.model.root(p, ts.observation).learned_value,
                    "gap": jnp.abs(q[:, 1] - q[:, 0]), "flipped": out.action != prior}

        records, _ = trajectory(env, agent.model, p, agent.objective, planner, key, episodes, env.max_steps, record)
        return records

    records = jax.tree.map(np.asarray, jax.jit(jax.vmap(one))(params, keys))  # [S, T, episodes]
    out = []
    for s in range(records["alive"].shape[0]):
        alive = records["alive"][s]
        length = alive.sum(axis=0)  # [episodes]
        t = np.arange(alive.shape[0])[:, None]
        to_go = (1.0 - discount ** (length[None, :] - t)) / (1.0 - discount)
        in_failed = alive & (length < env.max_steps)[None, :]
        value = records["value"][s]
        before = [value[n - 100, e] for e, n in enumerate(length) if 100 <= n < env.max_steps]
        out.append({
            "seed": agent.seeds[s],
            "failed_steps": int(in_failed.sum()),
            "value_mean_abs_error_failed": round(float(np.abs(value - to_go)[in_failed].mean()), 1) if in_failed.any() else None,
            "return_to_go_mean_failed": round(float(to_go[in_failed].mean()), 1) if in_failed.any() else None,
            "value_100_before_end": round(float(np.mean(before)), 1) if before else None,
            "root_gap_mean": round(float(records["gap"][s][alive].mean()), 2),
            "value_mean": round(float(value[alive].mean()), 1),
            "value_at_start": round(float(value[0].mean()), 1),
            "prior_flipped": round(float(records["flipped"][s][alive].mean()), 3)})
    return out


def diagnose(run: Path, episodes: int) -> dict:
    agent, state, host = restore_run(run)
    config = agent.config
    params, env_steps = state.learner.params, host["step"]
    keys = agent.eval_keys(env_steps)  # the study's own evaluation keys at that step
    by_search, ends = {}, []
    for name, planner in searches(config.planner).items():
        play = jax.jit(jax.vmap(lambda p, key, planner=planner: rollout(agent.env, agent.model, p, agent.objective,
                                                                         planner, key, episodes)))
        returns, final = play(params, keys)
        returns, inner = np.asarray(returns), np.asarray(final.inner)  # inner [S, episodes, 4]
        by_search[name] = returns.mean(axis=1).round(1).tolist()
        if name == "study":
            for s in range(returns.shape[0]):
                failed = returns[s] < agent.env.max_steps
                ends.append({"seed": agent.seeds[s], "failed_episodes": int(failed.sum()),
                             "cart_out": int((failed & (np.abs(inner[s, :, 0]) > X_LIMIT)).sum()),
                             "pole_fell": int((failed & (np.abs(inner[s, :, 2]) > THETA_LIMIT)).sum()),
                             "failed_mean_length": round(float(returns[s][failed].mean()), 1) if failed.any() else None})
    by_search["prior_only"] = prior_only_returns(agent, params, keys, episodes).mean(axis=1).round(1).tolist()
    by_search["value_true_1_step"] = value_one_step_returns(agent, params, keys, episodes).mean(axis=1).round(1).tolist()
    return {"run": str(run), "env_steps": env_steps, "seeds": agent.seeds, "mean_return_by_search": by_search,
            "study_search_failures": ends, "discount": config.discount,
            "value_calibration": value_calibration(agent, params, keys, episodes)}


def _or_dash(x) -> str:
    return "-" if x is None else str(x)


def write_markdown(report: dict, path: Path) -> None:
    lines = ["# How CartPole evaluations fail (final parameters of the sample-efficiency study's runs)", ""]
    for v in report["variants"]:
        lines += [f"## {v['variant']} (env step {v['env_steps']})", "",
                  "Mean return of each seed's 20 episodes under each evaluation search:", "",
                  "| search | " + " | ".join(f"seed {s}" for s in v["seeds"]) + " | seeds >= 475 |",
                  "| --- | " + " | ".join("---:" for _ in v["seeds"]) + " | ---: |"]
        for name, means in v["mean_return_by_search"].items():
            lines.append(f"| {name} | " + " | ".join(f"{m:.0f}" for m in means)
                         + f" | {sum(m >= 475 for m in means)} |")
        lines += ["", "Failed episodes under the study's search (return < 500): how they ended.", "",
                  "| seed | failed | cart out of bounds | pole fell | mean length of the failed |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {e['seed']} | {e['failed_episodes']} | {e['cart_out']} | {e['pole_fell']} | "
                  f"{e['failed_mean_length'] if e['failed_mean_length'] is not None else '-'} |"
                  for e in v["study_search_failures"]]
        if "value_calibration" in v:
            lines += ["", ("Along the study search's episodes: the learned value against the realized discounted "
                           "return-to-go in failed episodes, and the Q gap between the two actions at the root."), "",
                      "| seed | steps in failed episodes | mean return-to-go there | mean abs value error there | "
                      "v 100 steps before the end (G = {:.1f}) | v at the start (never failing: {:.0f}) | mean value | "
                      "mean root gap | prior flipped |".format((1 - v["discount"] ** 100) / (1 - v["discount"]),
                                                              1 / (1 - v["discount"])),
                      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            lines += [f"| {c['seed']} | {c['failed_steps']} | {_or_dash(c['return_to_go_mean_failed'])} | "
                      f"{_or_dash(c['value_mean_abs_error_failed'])} | {_or_dash(c['value_100_before_end'])} | "
                      f"{c['value_at_start']} | {c['value_mean']} | {c['root_gap_mean']} | {c['prior_flipped']} |"
                      for c in v["value_calibration"]]
        lines.append("")
    lines.append("prior_only: the policy head's argmax, no search. value_true_1_step: one step of lookahead on the "
                 "true simulator scored by the learned value of the true next observation.")
    lines.append("")
    p = report["provenance"]
    lines.append(f"Commit {p.get('commit')}; command `{p.get('command')}`; {p['machine'].get('cpu')}.")
    path.write_text("\n".join(lines) + "\n")


def main(args: Args) -> dict:
    started = time.perf_counter()
    variants = []
    for variant in args.variants:
        run = study_run(args.runs_dir, variant)
        variants.append({"variant": variant, **diagnose(run, args.episodes)})
        print(variants[-1]["mean_return_by_search"], flush=True)
    report = write_results(RESULTS / f"{args.name}.json", {"benchmark": "CartPole failure modes", "variants": variants},
                           args, started)
    write_markdown(report, RESULTS / f"{args.name}.md")
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
