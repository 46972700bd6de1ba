"""Several processes (hosts) training one run, on JAX's own distributed runtime.

    python train.py --coordinator-address HOST:PORT --num-processes 2 --process-id 0   # on host 0
    python train.py --coordinator-address HOST:PORT --num-processes 2 --process-id 1   # on host 1

Every process runs the same program (SPMD): the mesh spans the devices of all processes, each
process steps the envs and holds the replay streams of its own devices, and the learner's
gradient is averaged across all of them (agent/algorithm/sharding.py). Process 0 alone writes
the run folder's files (config, records, plots; the checkpoint's counters), while orbax writes
each checkpoint from all processes (each its own shards). On CPUs the collectives between
processes go through gloo.

A signal must reach every process (the launcher's job, e.g. SLURM's scancel): one process that
stops alone leaves the others waiting at the next collective.
"""
from __future__ import annotations

import jax


def initialize(coordinator_address: str | None, num_processes: int | None, process_id: int | None) -> bool:
    """Joins a multi-process run when the arguments are given (all three, or none for one process).
    Returns whether this is a multi-process run. Call before anything else touches JAX's devices."""
    given = [a is not None for a in (coordinator_address, num_processes, process_id)]
    if not any(given):
        return False
    if not all(given):
        raise ValueError("a multi-process run needs all of --coordinator-address, --num-processes and --process-id")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id {process_id} must be in 0..{num_processes - 1} (--num-processes {num_processes})")
    # CPU collectives across processes need gloo (accelerators use their own; the setting is ignored there).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id)
    return True


def is_main_process() -> bool:
    """Whether this process writes the run folder's files (process 0; always so for one process)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Every process waits here for the others (a no-op with one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)
