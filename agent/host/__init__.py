"""The host side of a run: `run.train` (progress, evaluation, signals, the NaN stop),
checkpoints (orbax; `load_run`), records (metrics.jsonl, TensorBoard, the curve) and
evaluation on gymnasium's own envs. Imports agent.algorithm and agent.config."""
