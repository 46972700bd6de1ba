"""Checkpoints of the whole TrainState (params, optimiser, replay, envs, keys) with orbax,
and `load_run`: a saved run's agent and latest parameters.

Layout: RUN/checkpoints/<env_steps>/ (orbax) and RUN/checkpoints/<env_steps>.json
(host-side counters: wall seconds so far, the next evaluation step).

What a crash can and cannot do to them:
- orbax writes a step into a temporary folder and renames it when complete, so a save cut
  short (kill -9, power loss) never shows up as a step; the counters file is written
  (atomically) before the step, so every complete step has its counters;
- a step that is there but cannot be read (a damaged file) is reported by name and the
  next older one is used instead;
- a step written by other code (another network size, a renamed field) is refused with
  what differs, not with orbax's traceback;
- a save that fails (a full disk) raises CheckpointError and leaves the older steps as they were.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from agent.algorithm.iteration import Agent, seed_slice
from agent.config import load_config


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read; the message names it and says what to do."""


def _path_names(path) -> str:
    """A key path as 'learner/params/...': the same string for dict keys, attributes and indices."""
    parts = [getattr(k, "key", getattr(k, "name", getattr(k, "idx", k))) for k in path]
    return "/".join(str(p) for p in parts)


def _leaves(tree) -> dict[str, tuple]:
    """{path: (shape, dtype)} of a tree of arrays, ShapeDtypeStructs or orbax ArrayMetadata."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {_path_names(path): (tuple(leaf.shape), str(leaf.dtype)) for path, leaf in flat}


def describe_mismatch(saved: dict[str, tuple], wanted: dict[str, tuple], limit: int = 3) -> str | None:
    """What differs between a saved state's leaves and the leaves this code expects, or None."""
    problems = [f"{k}: saved {saved[k][0]} {saved[k][1]}, expected {wanted[k][0]} {wanted[k][1]}"
                for k in wanted if k in saved and saved[k] != wanted[k]]
    problems += [f"{k}: not in the checkpoint" for k in wanted if k not in saved]
    problems += [f"{k}: in the checkpoint, unknown to this code" for k in saved if k not in wanted]
    if not problems:
        return None
    more = f" (and {len(problems) - limit} more)" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more


class Checkpoints:
    """Saves and restores TrainStates under `run_dir/checkpoints`, keeping the newest `keep`."""

    def __init__(self, run_dir: str | Path, keep: int = 2):
        self.directory = Path(run_dir).absolute() / "checkpoints"
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

    def save(self, step: int, state: Any, host: dict) -> None:
        """Blocks until written, so a save before exit is complete; raises CheckpointError if
        the disk refuses it (the older checkpoints stay as they were)."""
        try:
            main = jax.process_index() == 0  # several processes: each saves its shards, process 0 the counters
            if main:
                counters = self.directory / f"{step}.json"
                partial = counters.with_suffix(".json.partial")
                partial.write_text(json.dumps(host))
                os.replace(partial, counters)  # atomic: the counters are whole or absent
            if step in self.manager.all_steps():  # e.g. a damaged step that a resume went back past
                self.manager.delete(step)
            self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
            self.manager.wait_until_finished()
            kept = {str(s) for s in self.manager.all_steps()}
            for stale in self.directory.glob("*.json") if main else ():  # counters of steps orbax dropped
                if stale.stem not in kept:
                    stale.unlink()
        except OSError as err:
            previous = [s for s in self.manager.all_steps() if s != step]
            kept = f"the previous checkpoint (env step {max(previous)}) is intact" if previous else "no older one exists"
            raise CheckpointError(f"could not save the checkpoint at env step {step} in {self.directory}: "
                                  f"{err.strerror or err}; {kept}. Free disk space, then resume with "
                                  f"python train.py --resume {self.directory.parent}") from err

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def restore(self, template: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restores the newest readable checkpoint (or `step`) into the structure, shapes and
        dtypes of `template`. Returns (state, host counters with "step", the env step restored).

        A damaged checkpoint is reported on stderr and the next older one is tried; one that
        does not fit `template` raises CheckpointError naming what differs.
        """
        steps = [step] if step is not None else sorted(self.manager.all_steps(), reverse=True)
        if not steps:
            raise FileNotFoundError(f"no checkpoint under {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        damaged = []
        for s in steps:
            try:
                state = self.manager.restore(s, args=ocp.args.StandardRestore(abstract))
            except Exception as err:  # noqa: BLE001 -- orbax and tensorstore raise many types for a bad file
                self._refuse_if_other_code(s, abstract)
                reason = (str(err).splitlines() or [type(err).__name__])[0][:200]
                damaged.append(f"{self.directory / str(s)} ({reason})")
                print(f"warning: checkpoint {self.directory / str(s)} cannot be read ({reason}); "
                      f"trying an older one", file=sys.stderr)
                continue
            host_file = self.directory / f"{s}.json"
            host = json.loads(host_file.read_text()) if host_file.exists() else {}
            return state, {**host, "step": s}
        raise CheckpointError("no readable checkpoint: " + "; ".join(damaged))

    def _refuse_if_other_code(self, step: int, abstract: Any) -> None:
        try:
            saved = _leaves(self.manager.item_metadata(step).tree)
        except Exception:  # noqa: BLE001 -- damaged metadata: the step counts as damaged
            return
        difference = describe_mismatch(saved, _leaves(abstract))
        if difference:
            raise CheckpointError(f"checkpoint {self.directory / str(step)} was written by other code or another "
                                  f"config than this run's: {difference}. Resume it with the version that wrote "
                                  f"it, or start a new run")

    def close(self) -> None:
        self.manager.close()


def seed_index(agent: Agent, seed: int | None) -> int:
    """The position of seed number `seed` in the agent's run (None: its first seed)."""
    if seed is None:
        return 0
    if seed not in agent.seeds:
        raise ValueError(f"--run-seed {seed}: the run trained seeds {agent.seeds[0]}..{agent.seeds[-1]}; "
                         f"pick one of them")
    return agent.seeds.index(seed)


def restore_run(run_dir: str | Path) -> tuple[Agent, Any, dict]:
    """(agent, train state of every seed, host record) of a saved run's latest readable checkpoint."""
    # The tools that load a run need no data parallelism: one device, whatever the run trained on.
    config = dataclasses.replace(load_config(run_dir), devices=1)
    agent = Agent(config)
    checkpoints = Checkpoints(run_dir, keep=config.keep_checkpoints)
    state, host = checkpoints.restore(agent.init())
    checkpoints.close()
    return agent, state, host


def load_run(run_dir: str | Path, seed: int | None = None) -> tuple[Agent, Any]:
    """(agent, params) of a saved run's latest readable checkpoint: the parameters of seed number
    `seed` of the run (None: its first seed), without the seed axis."""
    agent, state, _ = restore_run(run_dir)
    return agent, seed_slice(state.learner.params, seed_index(agent, seed))
