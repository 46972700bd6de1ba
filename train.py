"""Train a glasszero agent.

    python train.py                         # CartPole-v1, default preset
    python train.py --env chain --seed 3    # another env's preset, another seed
    python train.py --preset efficientzero  # every EfficientZero addition on (default: muzero)
    python train.py --env breakout-minatar  # pixels (MinAtar through gymnax), ResNet networks
    python train.py --env gymnax:Acrobot-v1 # any gymnax env with discrete actions
    python train.py --env gymnasium:Acrobot-v1   # any gymnasium env with discrete actions (host loop)
    python train.py --list-envs             # every env name --env accepts
    python train.py --help                  # every config field, documented
    python train.py --resume runs/DIR       # continue a stopped run (--devices N: on N devices)
    python train.py --devices 4             # split envs and batch over 4 local devices (default: all)
    python train.py --out runs/DIR --overwrite   # replace the run in runs/DIR
    python train.py --out runs/DIR --coordinator-address HOST:PORT --num-processes 2 --process-id 0
                                            # one of several processes (hosts) training one run

`--env` and `--preset` pick the defaults shown by --help; any field can then
be overridden (e.g. --replay.batch-size 128, --loss.consistency-weight 0).
"""
from __future__ import annotations

import argparse
import sys

from agent.host.distributed import initialize  # imports jax alone: see main()


def updates_label(result) -> str:
    """'N updates per seed', or the range over seeds when their counts differ (per-episode updates)."""
    counts = result.updates_per_seed
    if min(counts) == max(counts):
        return f"{counts[0]} updates per seed"
    return f"{min(counts)}-{max(counts)} updates per seed"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--env", default="cartpole")
    pre.add_argument("--resume", default=None)
    pre.add_argument("--preset", default="muzero")
    pre.add_argument("--overwrite", action="store_true")
    pre.add_argument("--list-envs", action="store_true")
    pre.add_argument("--devices", type=int, default=None)
    pre.add_argument("--coordinator-address", default=None)
    pre.add_argument("--num-processes", type=int, default=None)
    pre.add_argument("--process-id", type=int, default=None)
    known, rest = pre.parse_known_args(argv)
    try:
        initialize(known.coordinator_address, known.num_processes, known.process_id)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # Imported only now: jax.distributed must start before XLA's backend, which importing gymnax (through
    # envs) already starts.
    import tyro

    import envs
    from agent.config import ALGORITHMS, ConfigError, TrainConfig, load_config, preset
    from agent.host.checkpoint import CheckpointError
    from agent.host.run import NonFiniteLossError, train
    from agent.host.run_dir import RunLockedError
    if known.list_envs:
        print(f"envs: {envs.describe_names()}")
        return 0
    if known.preset not in ALGORITHMS:
        print(f"error: --preset {known.preset!r}: choose from {', '.join(ALGORITHMS)}", file=sys.stderr)
        return 2
    try:
        defaults = preset(known.env, known.preset)
    except ValueError as err:
        print(f"error: --env: {err}", file=sys.stderr)
        return 2
    if known.resume is None:
        devices = [] if known.devices is None else ["--devices", str(known.devices)]
        config = tyro.cli(TrainConfig, default=defaults, args=["--env", known.env, *devices, *rest],
                          description=__doc__ + "\nAdd --resume DIR to continue a stopped run, --overwrite to "
                                                  "replace the run in --out; --coordinator-address HOST:PORT "
                                                  "--num-processes N --process-id I to be process I of N "
                                                  "training one run (agent/host/distributed.py).")
    else:
        if rest:
            print(f"error: --resume takes the run's saved config; drop {' '.join(rest)}", file=sys.stderr)
            return 2
        config = None

    try:
        result = train(config, resume=known.resume, overwrite=known.overwrite,
                       devices=known.devices if known.resume is not None else None)
    except (ConfigError, FileNotFoundError, FileExistsError, RunLockedError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (NonFiniteLossError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    import jax
    if jax.process_index() != 0:  # a multi-process run: process 0 reports
        return 0
    if result.final_eval_mean is not None:
        from agent.host.run import return_text
        scale = max(abs(m) for m in result.final_eval_means)
        if len(result.final_eval_means) == 1:
            what = f"mean ± std return over {config.eval.episodes if config else 'the'} episodes"
        else:
            per_seed = ", ".join(return_text(m, scale, whole=True) for m in result.final_eval_means)
            what = (f"median over {len(result.final_eval_means)} seeds of their mean returns ± the std of those "
                    f"means; per seed: {per_seed}")
        print(f"final evaluation: {return_text(result.final_eval_mean, scale)} ± "
              f"{return_text(result.final_eval_std, scale)} ({what}) "
              f"after {result.env_steps} env steps, {updates_label(result)}, {result.wall_s:.0f} s")
    if result.stopped_early == "time":
        ran = load_config(result.run_dir)  # also when resuming (config is None then)
        print(f"stopped at the wall-clock limit (--max-wall-s {ran.max_wall_s:g}) after {result.env_steps} of "
              f"{ran.total_env_steps} env steps; continue for as long again with: python train.py --resume "
              f"{result.run_dir}")
    if result.gymnasium_eval_mean is not None:
        print(f"on gymnasium's own env: {result.gymnasium_eval_mean:.1f} mean return"
              f"{'' if len(result.final_eval_means or [0]) == 1 else ' (median over seeds)'}")
    print(f"run folder: {result.run_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
