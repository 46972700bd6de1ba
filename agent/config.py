"""Training configuration: frozen dataclasses, one docstring per field (tyro turns
them into `train.py --help`), a preset per env, validation that names the field at
fault before anything compiles, and the run folder's config.json (save_config,
load_config)."""
from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import envs
from agent.objectives import value_names
from networks.config import NetworkConfig
from search.planner import PlannerConfig


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser: Adam(W) with warm-up then cosine decay, clipped by global norm."""

    learning_rate: float = 3e-3
    """Peak learning rate after warm-up."""
    final_learning_rate_fraction: float = 0.1
    """The cosine schedule decays to this fraction of the peak over `decay_updates`."""
    warmup_updates: int = 100
    """Linear warm-up from 0 to the peak over this many updates."""
    decay_updates: int = 20_000
    """Length of the cosine decay after warm-up."""
    weight_decay: float = 1e-4
    """AdamW weight decay (0 gives plain Adam)."""
    max_grad_norm: float = 5.0
    """Clip gradients to this global norm."""


@dataclass(frozen=True)
class LossConfig:
    """MuZero losses over a K-step unroll of the dynamics."""

    unroll_steps: int = 5
    """K: dynamics steps unrolled per sample."""
    td_steps: int = 10
    """n of the n-step value target, bootstrapped on the target network's value. 0 (with
    --loss.bootstrap lookahead only): the target is the lookahead itself, max_a r(s, a) +
    discount x v(g(s, a)), value iteration through the learned model, with no acting reward in it."""
    value_weight: float = 0.25
    """Weight of the value cross-entropy."""
    policy_weight: float = 1.0
    """Weight of the policy cross-entropy to the search's action weights."""
    reward_weight: float = 1.0
    """Weight of the reward cross-entropy."""
    feature_weight: float = 1.0
    """Weight of the feature-decoder regression (latent -> env features)."""
    observation_weight: float = 1.0
    """With network.observation_latent: weight of |unrolled latent - real observation|^2 at unroll steps
    1..K (the dynamics' regression onto the env's next observations); unused otherwise."""
    consistency_weight: float = 0.0
    """EfficientZero's temporal consistency (SimSiam): weight of the negative cosine similarity
    between the predicted projection of the k-th unrolled latent and the stop-gradient projection
    of the representation of the real observation k steps later (EfficientZero uses 2; 0 is off)."""
    reanalyze_fraction: float = 0.0
    """EfficientZero reanalyze: the fraction of each batch whose policy targets are recomputed by
    searching again with the target parameters (0 is off; bootstrap values always come from the
    target network)."""
    off_policy_correction: bool = False
    """EfficientZero: shorten the TD horizon of old data, clip(td_steps - age / (0.3 x
    total_env_steps), 1, td_steps) (see agent.algorithm.schedules.corrected_td_steps)."""
    augmentation: bool = False
    """EfficientZero's augmentation of pixel observations in the loss: random shift by up to 1 square,
    then intensity x (1 + 0.05 clip(N(0,1), -2, 2)) (agent/algorithm/augment.py). Images only."""
    observation_noise: float = 0.0
    """Vector observations: the observation the representation reads in the loss gets Gaussian noise,
    each entry's standard deviation this fraction of that entry's spread over the batch (0 is off).
    The targets stay those of the clean observation, so the networks are taught to give nearby
    states nearby values and policies (the vector counterpart of `augmentation`)."""
    mirror: bool = False
    """Train on the mirror image of a random half of each batch's windows: the env's symmetry
    (`Env.mirror`; CartPole: negate the four variables, swap the pushes) applied to every row's
    observation, action, policy target and features, with the same rewards and values. Twice the
    data for free, and the heads learn to treat mirror-image states alike. Envs without one: an error."""
    target_update_interval: int = 100
    """Copy the online parameters to the target network every this many updates (with
    `target_ema` 0)."""
    target_ema: float = 0.0
    """0: hard copies every `target_update_interval` updates. > 0: an exponential moving average
    instead, target += target_ema x (online - target) after every update (e.g. 0.01)."""
    bootstrap: str = "target"
    """What the n-step value target bootstraps on: 'target' (the target network's value of the state
    n steps later, computed when the window is sampled) or 'search' (the root value the acting search
    found there, stored in replay, as in the MuZero paper; needs --value learned) or 'lookahead' (the target
    network's best one-step lookahead there, max_a r(s, a) + discount v(g(s, a)), with its learned model:
    the value of acting greedily from that state, not of the noisy acting policy)."""
    value_target: str = "td"
    """'td': every value target is the n-step return above. 'mixed': EfficientZero V2's mixed value
    target: windows whose first row is more than `mixed_value_age` env steps old learn, at each of
    their unrolled rows, the root value of a fresh search there with the target parameters (its
    search-based value estimate), because the rewards in their n-step returns were earned by an older
    policy; younger windows keep the n-step return. Searches every window of each batch again
    (reanalyze, for policies, searches `reanalyze_fraction` of them), so an update costs about a search
    per unrolled row of the batch."""
    mixed_value_age: int = 500
    """With value_target 'mixed': windows older than this many env steps take the search's value."""
    value_lower_bound: bool = False
    """Raise each value target to at least the discounted reward the replay holds from that step to
    the end of its episode (or to the newest step of an unfinished one): what was actually earned
    from there, however far away the episode ended. A lower bound on the optimal value only in a
    deterministic env with rewards >= 0 (CartPole); a long survival raises the value of the steps that
    led to it at once, without waiting for 20 target-network copies to carry it back 10 steps at a
    time (a failure can only leave a target as it is: the floor never lowers one)."""


@dataclass(frozen=True)
class ReplayConfig:
    """A device-resident circular buffer of transitions, one stream per env."""

    capacity_per_env: int = 4096
    """Transitions kept per env stream (oldest overwritten)."""
    batch_size: int = 256
    """Windows sampled per learner update."""
    min_size_per_env: int = 32
    """No learning until each env stream holds this many transitions."""
    sample_to_head: bool = False
    """Windows may start at any held row, the newest included: rows past the newest are masked as
    after a time limit, and the n-step value bootstraps on the target network's value of where the
    newest step led. False: only fully written windows, so the newest unroll_steps + td_steps rows
    of each stream start none (with td_steps 10 and 4 envs, the freshest 60 env steps)."""
    replay_ratio: float = 1.0
    """Learner updates per env step, after the schedule's start (below)."""
    replay_ratio_start: float = 4.0
    """Updates per env step at the start of training (more learning on little data)."""
    replay_ratio_decay_steps: int = 2000
    """Env steps over which the ratio goes linearly from `replay_ratio_start` to `replay_ratio`."""
    updates_per_episode: float = 0.0
    """Learner updates owed per finished episode, on top of the replay ratio (0: off). LightZero's
    pattern: a fixed number of updates per batch of whole episodes, so a seed that plays long
    episodes (a good policy) gets fewer updates per env step. Counted per seed, for episodes that
    end once learning has started (`min_size_per_env`). A seed's iterations without an update
    log losses of 0."""
    updates_per_episode_max_ratio: float = 0.0
    """With `updates_per_episode`: the most updates per env step a seed runs (0: no cap); what it
    owes beyond that is banked up to one episode's worth (`updates_per_episode`). So with short
    episodes it learns at this ratio and with long ones at updates_per_episode / episode length.
    Times env_steps_per_iteration it must give a whole number of updates >= 1."""
    prioritized: bool = False
    """Prioritized replay: sample window starts with P ~ priority^alpha, priority = |predicted
    value - target| + eps, new data at max priority, importance weights in the loss."""
    priority_alpha: float = 0.6
    """PER exponent alpha (0 is uniform)."""
    priority_beta_start: float = 0.4
    """PER importance-weight exponent at the start; annealed linearly to 1 over the run."""
    priority_eps: float = 1e-6
    """Added to every priority so that every window keeps a chance to be sampled."""


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation with a greedy search on separate env instances."""

    episodes: int = 20
    """Episodes per evaluation (run in parallel)."""
    every_env_steps: int = 500
    """Evaluate every this many env steps (and at the end)."""
    num_simulations: int = 16
    """Simulations per search during evaluation."""
    stop_at_return: float | None = None
    """Stop training once an evaluation's mean return reaches this (None: never)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; saved as config.json in the run folder."""

    env: str = "cartpole"
    """Environment name: cartpole, chain, bandit, coin_at_end, cheese_in_corner, breakout-minatar,
    gymnax:<id> for any gymnax env with discrete actions, or gymnasium:<id> for any gymnasium env with
    discrete actions, stepped on the host (python train.py --list-envs lists them)."""
    env_kwargs: dict[str, float] = field(default_factory=dict)
    """Arguments of the env's constructor, e.g. `--env-kwargs diversity 0.2` (the gridworlds' fraction
    of training levels with a random goal)."""
    seed: int = 0
    """Random seed: the same seed and config give the same run."""
    seeds: int = 1
    """Seeds trained together in one compiled program (vmapped): seed, seed + 1, ..., seed + seeds - 1.
    One run folder holds them all; each seed has the keys and schedule of its single-seed run (the
    batched program may order float sums differently, so long runs drift apart)."""
    out: str = ""
    """Run folder (empty: runs/<env>-s<seed>-<time>)."""
    total_env_steps: int = 5_000
    """Stop after this many env steps (summed over the parallel envs)."""
    max_wall_s: float | None = None
    """Also stop once this call of train has run this many wall seconds, compilation and evaluations
    included (checked after each iteration, so it overshoots by up to one iteration and one
    evaluation): the run evaluates, saves a checkpoint and ends (no gymnasium evaluation). None: no
    limit. For a fixed time budget (a borrowed GPU, a CI job); the env steps it reached are in the
    records. `--resume` continues such a run for as many seconds again."""
    num_envs: int = 4
    """Parallel envs stepped together (each with its own search)."""
    devices: int = 0
    """Local devices to split the parallel envs and the learner batch over (data parallel; parameters
    replicated, gradients averaged); 0 (the default): all local devices. num_envs and replay.batch_size must be
    multiples of it. The same config learns the same on any device count (up to float sum order)."""
    act_steps_per_iteration: int = 4
    """Env steps per env in one jitted iteration (learner updates follow them)."""
    noise_hold_steps: int = 1
    """Acting with the Gumbel search: every env keeps the same root Gumbel noise for this many of its
    steps (blocks of steps counted from the start of the run), so that where the search is close to
    indifferent the noise pushes the same way for a while instead of dithering step by step
    (temporally extended exploration, as in ez-greedy; Dabney et al. 2020). Where the search's values
    differ by more than the noise, they still decide. 1: fresh noise every step. JAX envs only."""
    env_stepping: typing.Literal["auto", "xla", "host"] = "auto"
    """How Atari games (atari:<Game>) step while training: 'xla' inside the jitted iteration, through
    ale-py's XLA interface (one device); 'host' in Python between jitted calls; 'auto': 'xla' where
    ale-py offers it for this backend and the run uses one device, else 'host' (the run's first metrics
    row says which ran). JAX envs always step inside the jit, gymnasium:<id> envs always on the host."""
    discount: float = 0.997
    """Discount of the objective and of the n-step targets."""
    value: str = "learned"
    """What scores the search's leaves while acting: 'learned' (the value head), 'zero', or a hand
    value shipped for the env (cartpole: upright; chain: toward_goal, toward_wall), read from the
    learned model's decoded features. The policy prior learns from those searches."""
    value_blend: float = 1.0
    """With a hand --value: weight of it against the learned value, (1 - w) learned + w hand."""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """Network sizes."""
    planner: PlannerConfig = field(default_factory=lambda: PlannerConfig(num_simulations=16))
    """Search used to act while training."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    log_every_iterations: int = 10
    """Write a metrics row every this many iterations."""
    checkpoint_every_env_steps: int = 2_500
    """Save a checkpoint every this many env steps (and at the end)."""
    keep_checkpoints: int = 2
    """Checkpoints kept, the newest (a damaged newest one falls back to the one before)."""
    eval_on_gymnasium: bool = True
    """At the end, also evaluate on gymnasium's own env (CartPole-v1) through a host adapter."""

    @property
    def env_steps_per_iteration(self) -> int:
        return self.num_envs * self.act_steps_per_iteration


PRESETS: dict[str, TrainConfig] = {
    # Stops once solved (an evaluation >= 475); --eval.stop-at-return None trains the whole budget.
    # Four changes from the TrainConfig defaults, each measured with 8 seeds in
    # benchmarks/results/sample_efficiency.json: Gumbel Q-values scaled by the tree's value range
    # (with two actions the per-node scaling turns noise into certain targets), and one update per env
    # step from the start (4 early on overfits the first few hundred steps and costs 3x the compute);
    # then noise of 0.1 x each entry's batch spread on the observations the loss reads, and half of
    # each batch mirrored left-right (the study's observation_noise_0.1 and observation_noise_0.1_mirror;
    # benchmarks/results/pooled_cartpole.json, 16 seeds over 10,000 env steps: median first 475 at
    # 2,384 env steps without either, 1,384 with the noise, 752 with both; worst seed never, 6,000,
    # 4,512); then the target network copied after every update instead of every 100
    # (observation_noise_0.1_mirror_target_1: no seed of 16 short of 475 at 2,000 env steps, against
    # 2 with copies every 100; over 10,000 env steps the worst seed at 1,760 against 4,512, the median
    # at 752 either way, but 11 of 16 seeds holding 475 in 80% of later evaluations against 14;
    # README, "Target copies every update"). The study measures its variants against the preset
    # without the three (benchmarks/sample_efficiency.py, study_base).
    "cartpole": TrainConfig(total_env_steps=10_000, eval=EvalConfig(stop_at_return=475.0),
                            planner=PlannerConfig(num_simulations=16, gumbel_q_scaling="tree"),
                            replay=ReplayConfig(replay_ratio_start=1.0),
                            loss=LossConfig(observation_noise=0.1, mirror=True, target_update_interval=1)),
    "chain": TrainConfig(env="chain", total_env_steps=1_000, discount=0.99,
                         network=NetworkConfig(hidden=32, latent=32, value_support=5, reward_support=3),
                         eval=EvalConfig(episodes=8, every_env_steps=200), eval_on_gymnasium=False),
    # The goal-misgeneralization gridworlds (benchmarks/misgeneralization.py): a shorter discount so
    # that values tell near from far within an episode of 20-40 steps; the maze needs more steps.
    # Both learn at one update per env step from the start, and their value target is the target
    # network's best one-step lookahead itself (TD horizon 0), max_a r(s, a) + discount v(g(s, a)):
    # value iteration through the learned model, with none of the noisy acting policy's detours in
    # it. Their value targets are scaled by 100 before the support: returns in [0, 1] otherwise sit
    # inside its first bin, neighbouring squares 0.01-0.02 of a bin apart. That is the study variant
    # ratio_1_lookahead_td0_scale_100 (benchmarks/sample_efficiency.py, PRESET_VARIANTS), measured with
    # 8 seeds in benchmarks/results/sample_efficiency_<env>.json and on 512 levels per seed in
    # benchmarks/results/gridworld_failures_<env>_td0_scale_100.json.
    **{name: TrainConfig(env=name, total_env_steps=steps, discount=0.95, eval_on_gymnasium=False,
                         eval=EvalConfig(episodes=32, every_env_steps=1_000),
                         network=NetworkConfig(value_scale=100.0),
                         replay=ReplayConfig(replay_ratio_start=1.0),
                         loss=LossConfig(bootstrap="lookahead", td_steps=0))
       for name, steps in (("coin_at_end", 6_000), ("cheese_in_corner", 10_000))},
    # Pixels: the ResNet networks; a smaller batch keeps a CPU update affordable.
    "breakout-minatar": TrainConfig(env="breakout-minatar", total_env_steps=20_000, discount=0.99,
                                    replay=ReplayConfig(batch_size=64),
                                    eval=EvalConfig(episodes=8, every_env_steps=2_000), eval_on_gymnasium=False),
}

# The same task through another family: the same preset, on that family's env.
PRESET_ALIASES = {"gymnasium:CartPole-v1": "cartpole", "gymnax:CartPole-v1": "cartpole"}

ALGORITHMS = ("muzero", "efficientzero")
ATARI_PREFIX = "atari:"  # every Atari game takes the atari100k preset
ENV_STEPPINGS = ("auto", "xla", "host")  # TrainConfig.env_stepping
BOOTSTRAPS = ("target", "search", "lookahead")
VALUE_TARGETS = ("td", "mixed")
# EfficientZero's additions, each switched by config fields (see with_additions).
ADDITIONS = {
    "value_prefix": "value-prefix LSTM (network.value_prefix_horizon 5)",
    "consistency": "SimSiam temporal consistency (loss.consistency_weight 2)",
    "reanalyze": "fresh policy targets for half of each batch (loss.reanalyze_fraction 0.5)",
    "off_policy_correction": "TD horizon shortened for old data (loss.off_policy_correction)",
    "prioritized_replay": "PER, alpha 0.6, beta annealed to 1 (replay.prioritized)",
    "augmentation": "shift + intensity, images only (loss.augmentation)",
}


def with_additions(config: TrainConfig, additions: tuple[str, ...] | list[str]) -> TrainConfig:
    """`config` with exactly the named EfficientZero additions switched on (the rest off).

    value_prefix: value-prefix LSTM, horizon 5. consistency: SimSiam loss, weight 2.
    reanalyze: fresh policy targets for half of each batch (EfficientZero re-searches
    99%; half keeps a CPU run affordable). off_policy_correction: shorter TD horizon
    for old data. prioritized_replay: PER. augmentation: shift + intensity, applied
    only where observations are images.
    """
    unknown = set(additions) - set(ADDITIONS)
    if unknown:
        raise ValueError(f"unknown EfficientZero additions {sorted(unknown)}; choose from {', '.join(ADDITIONS)}")
    on = set(additions)
    images = len(envs.make(config.env, **config.env_kwargs).observation_shape) == 3
    return dataclasses.replace(
        config,
        network=dataclasses.replace(config.network, value_prefix_horizon=5 if "value_prefix" in on else 0),
        loss=dataclasses.replace(config.loss, consistency_weight=2.0 if "consistency" in on else 0.0,
                                 reanalyze_fraction=0.5 if "reanalyze" in on else 0.0,
                                 off_policy_correction="off_policy_correction" in on,
                                 augmentation=images and "augmentation" in on),
        replay=dataclasses.replace(config.replay, prioritized="prioritized_replay" in on),
    )


def with_algorithm(config: TrainConfig, algorithm: str) -> TrainConfig:
    """'efficientzero': every addition on; 'muzero': every addition off."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown preset {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    return with_additions(config, tuple(ADDITIONS) if algorithm == "efficientzero" else ())


def atari100k(env: str) -> TrainConfig:
    """The `atari100k` preset, for every atari:<Game>: EfficientZero's Atari 100k setup with its additions on.

    100,000 agent steps (400,000 frames), one learner update per env step, batch 256, 50 simulations,
    TD horizon 5, unroll 5, discount 0.997; EfficientZero's network sizes (64 channels, one residual
    block, a 96x96 -> 6x6 downsampling stem, heads of width 32, value and reward supports of 300, a
    512-wide value-prefix LSTM over 5 steps); every EfficientZero addition (with_additions), which
    includes augmentation. Replay holds the whole run: 100,000 transitions of two 96x96x4 uint8 frames,
    about 7.4 GB. Adam at 3e-3 where EfficientZero used SGD at 0.2. Meant for an accelerator: on a
    CPU an update of this network takes seconds.
    """
    num_envs = 4
    config = TrainConfig(
        env=env, total_env_steps=100_000, num_envs=num_envs, discount=0.997, eval_on_gymnasium=False,
        network=NetworkConfig(channels=64, blocks=1, downsample=4, hidden=32, value_support=300, reward_support=300,
                              lstm_hidden=512),
        planner=PlannerConfig(num_simulations=50),
        loss=LossConfig(td_steps=5, unroll_steps=5),
        replay=ReplayConfig(capacity_per_env=100_000 // num_envs, batch_size=256, min_size_per_env=100,
                            replay_ratio=1.0, replay_ratio_start=1.0),
        eval=EvalConfig(episodes=8, every_env_steps=10_000, num_simulations=50),
        checkpoint_every_env_steps=10_000)
    return with_algorithm(config, "efficientzero")


def preset(env: str, algorithm: str = "muzero") -> TrainConfig:
    """The default config for an env (unknown envs get the cartpole defaults with that env; every
    atari:<Game> the atari100k preset, EfficientZero additions on), as is ('muzero', the default) or
    with every EfficientZero addition ('efficientzero')."""
    name = envs.canonical_name(env)
    if not envs.exists(name):
        raise ValueError(f"unknown env {env!r}; valid names: {envs.describe_names()}")
    if name.startswith(ATARI_PREFIX):
        config = atari100k(name)
    elif name in PRESET_ALIASES:
        # gymnasium's evaluation of the JAX CartPole is for the JAX env; these are that env already.
        config = dataclasses.replace(PRESETS[PRESET_ALIASES[name]], env=name, eval_on_gymnasium=False)
    else:
        config = PRESETS.get(name, dataclasses.replace(TrainConfig(), env=name))
    return config if algorithm == "muzero" else with_algorithm(config, algorithm)


def _numbers(config, prefix: str = ""):
    """(flag name, value) of every float field of a (nested) config, e.g. ('optim.learning-rate', 3e-3)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        name = prefix + f.name.replace("_", "-")
        if dataclasses.is_dataclass(value):
            yield from _numbers(value, name + ".")
        elif isinstance(value, float):
            yield name, value


class ConfigError(ValueError):
    """A config value is invalid; the message names the field."""


def validate(config: TrainConfig) -> None:
    """Raises ConfigError naming the first bad field; call before anything compiles."""

    def need(cond: bool, name: str, value, rule: str):
        if not cond:
            raise ConfigError(f"--{name} {value!r} is invalid: {rule}")

    for name, value in _numbers(config):  # NaN and inf pass every comparison below: refuse them first
        need(math.isfinite(value), name, value, "must be a finite number")

    env_name = envs.canonical_name(config.env)
    if not envs.exists(env_name):  # the list is built only here: it asks ale-py for its games
        need(False, "env", config.env, f"valid names: {envs.describe_names()}")
    try:
        env = envs.make(config.env, **config.env_kwargs)
    except (TypeError, ValueError) as err:
        if not config.env_kwargs:
            raise ConfigError(f"--env {config.env!r} is invalid: {err}") from None
        raise ConfigError(f"--env-kwargs {config.env_kwargs!r} is invalid for env {config.env!r}: {err}") from None
    need(config.value in value_names(env_name), "value", config.value,
         f"choose from {', '.join(value_names(env_name))}")
    need(0.0 <= config.value_blend <= 1.0, "value-blend", config.value_blend, "must be in [0, 1]")
    need(config.total_env_steps > 0, "total-env-steps", config.total_env_steps, "must be > 0")
    need(config.seeds > 0, "seeds", config.seeds, "must be >= 1")
    need(config.num_envs > 0, "num-envs", config.num_envs, "must be > 0")
    need(config.devices >= 0, "devices", config.devices, "must be >= 1, or 0 for all local devices")
    if config.devices > 0:
        need(config.num_envs % config.devices == 0, "num-envs", config.num_envs,
             f"must be a multiple of --devices {config.devices} (each device steps num_envs / devices envs)")
        need(config.replay.batch_size % config.devices == 0, "replay.batch-size", config.replay.batch_size,
             f"must be a multiple of --devices {config.devices} (each device learns on batch_size / devices windows)")
    need(config.env_stepping in ENV_STEPPINGS, "env-stepping", config.env_stepping,
         f"choose from {', '.join(ENV_STEPPINGS)}")
    need(config.env_stepping == "auto" or env_name.startswith(ATARI_PREFIX), "env-stepping", config.env_stepping,
         f"chooses how Atari games step; {config.env} is not one (JAX envs step inside the jit, gymnasium:<id> "
         f"envs on the host): leave it at 'auto'")
    need(config.act_steps_per_iteration > 0, "act-steps-per-iteration", config.act_steps_per_iteration,
         "must be > 0")
    need(config.noise_hold_steps >= 1, "noise-hold-steps", config.noise_hold_steps, "must be >= 1 (1: fresh noise)")
    need(config.noise_hold_steps == 1 or not envs.is_host_env(env),
         "noise-hold-steps",
         config.noise_hold_steps, f"holds the search noise inside the jitted acting of JAX envs; {config.env} "
         f"steps on the host: leave it at 1")
    need(0.0 < config.discount <= 1.0, "discount", config.discount, "must be in (0, 1]")
    r, l, o, e, n = config.replay, config.loss, config.optim, config.eval, config.network
    need(r.batch_size > 0, "replay.batch-size", r.batch_size, "must be > 0")
    need(l.unroll_steps > 0, "loss.unroll-steps", l.unroll_steps, "must be >= 1")
    need(l.td_steps >= 0, "loss.td-steps", l.td_steps, "must be >= 0")
    need(l.td_steps > 0 or (l.bootstrap == "lookahead" and not l.off_policy_correction), "loss.td-steps",
         l.td_steps, "0 makes the value target the bootstrap itself, which only --loss.bootstrap lookahead "
         "(without --loss.off-policy-correction) turns into a target: use td-steps >= 1 or that bootstrap")
    obs_shape = env.observation_shape
    need(not l.augmentation or len(obs_shape) == 3, "loss.augmentation", l.augmentation,
         f"shift + intensity augmentation needs image observations [H, W, C]; {config.env} has {obs_shape}")
    need(l.observation_noise >= 0, "loss.observation-noise", l.observation_noise, "must be >= 0")
    need(l.observation_noise == 0 or len(obs_shape) == 1, "loss.observation-noise", l.observation_noise,
         f"adds noise to vector observations; {config.env} has image observations {obs_shape}: use "
         f"--loss.augmentation for those")
    need(not l.mirror or env.mirror is not None, "loss.mirror", l.mirror,
         f"{config.env} declares no mirror symmetry (envs.Env.mirror; CartPole does): drop --loss.mirror")
    need(not n.residual_dynamics or len(obs_shape) == 1, "network.residual-dynamics", n.residual_dynamics,
         f"the residual dynamics are the vector MLP's; {config.env} has image observations {obs_shape}, whose "
         f"ResNet dynamics have residual blocks already")
    need(not n.action_every_layer or len(obs_shape) == 1, "network.action-every-layer", n.action_every_layer,
         f"reads the action at every layer of the vector MLP's dynamics; {config.env} has image observations "
         f"{obs_shape}, whose ResNet dynamics read it as an action plane")
    need(not n.observation_latent or len(obs_shape) == 1, "network.observation-latent", n.observation_latent,
         f"plans in the observation itself, which needs vector observations; {config.env} has {obs_shape}")
    need(n.value_heads >= 1, "network.value-heads", n.value_heads, "must be >= 1 (1: a single value head)")
    need(n.value_heads == 1 or len(obs_shape) == 1, "network.value-heads", n.value_heads,
         f"several value heads are the vector MLP's; {config.env} has image observations {obs_shape}")
    need(n.value_prefix_horizon >= 0, "network.value-prefix-horizon", n.value_prefix_horizon,
         "must be >= 0 (0 is off)")
    need(0.0 <= l.reanalyze_fraction <= 1.0, "loss.reanalyze-fraction", l.reanalyze_fraction, "must be in [0, 1]")
    window = l.unroll_steps + l.td_steps + 1
    need(r.capacity_per_env >= window + 1, "replay.capacity-per-env", r.capacity_per_env,
         f"must hold at least one sample window (unroll_steps + td_steps + 2 = {window + 1})")
    need(r.min_size_per_env >= (1 if r.sample_to_head else window), "replay.min-size-per-env", r.min_size_per_env,
         "must be >= 1" if r.sample_to_head else
         f"must be >= unroll_steps + td_steps + 1 = {window} (or set replay.sample-to-head)")
    need(r.min_size_per_env <= r.capacity_per_env, "replay.min-size-per-env", r.min_size_per_env,
         f"cannot exceed replay.capacity-per-env = {r.capacity_per_env}")
    need(r.capacity_per_env * config.num_envs >= r.batch_size, "replay.capacity-per-env", r.capacity_per_env,
         f"the replay (capacity_per_env x num_envs = {r.capacity_per_env * config.num_envs}) is smaller "
         f"than a batch ({r.batch_size})")
    need(r.replay_ratio >= 0 and r.replay_ratio_start >= 0, "replay.replay-ratio", r.replay_ratio, "must be >= 0")
    need(r.updates_per_episode >= 0, "replay.updates-per-episode", r.updates_per_episode, "must be >= 0")
    need(r.updates_per_episode_max_ratio >= 0, "replay.updates-per-episode-max-ratio",
         r.updates_per_episode_max_ratio, "must be >= 0")
    if r.updates_per_episode_max_ratio > 0:
        need(r.updates_per_episode > 0, "replay.updates-per-episode-max-ratio", r.updates_per_episode_max_ratio,
             "caps --replay.updates-per-episode, which is 0 (off): set both or neither")
        cap = r.updates_per_episode_max_ratio * config.env_steps_per_iteration
        need(cap >= 1 and cap == round(cap), "replay.updates-per-episode-max-ratio", r.updates_per_episode_max_ratio,
             f"times the {config.env_steps_per_iteration} env steps of an iteration (num_envs x "
             f"act_steps_per_iteration) must be a whole number of updates >= 1, not {cap:g}")
    need(r.replay_ratio_decay_steps >= 0, "replay.replay-ratio-decay-steps", r.replay_ratio_decay_steps,
         "must be >= 0")
    need(o.learning_rate > 0, "optim.learning-rate", o.learning_rate, "must be > 0")
    need(o.warmup_updates >= 0, "optim.warmup-updates", o.warmup_updates, "must be >= 0")
    need(o.max_grad_norm > 0, "optim.max-grad-norm", o.max_grad_norm, "must be > 0")
    need(0.0 <= l.target_ema < 1.0, "loss.target-ema", l.target_ema, "must be in [0, 1) (0: hard copies)")
    need(l.bootstrap in BOOTSTRAPS, "loss.bootstrap", l.bootstrap, f"choose from {', '.join(BOOTSTRAPS)}")
    need(l.bootstrap != "search" or config.value == "learned", "loss.bootstrap", l.bootstrap,
         f"'search' bootstraps the value head on the acting search's root values, which with --value "
         f"{config.value} score the hand value, not the learned one; use --loss.bootstrap target")
    need(l.value_target in VALUE_TARGETS, "loss.value-target", l.value_target,
         f"choose from {', '.join(VALUE_TARGETS)}")
    need(l.value_target != "mixed" or config.value == "learned", "loss.value-target", l.value_target,
         f"'mixed' teaches the value head the fresh searches' root values, which with --value {config.value} "
         f"score the hand value, not the learned one; use --loss.value-target td")
    need(l.mixed_value_age >= 0, "loss.mixed-value-age", l.mixed_value_age, "must be >= 0 env steps")
    need(l.value_target != "mixed" or not l.value_lower_bound, "loss.value-target", l.value_target,
         "'mixed' replaces old windows' value targets by search values, which --loss.value-lower-bound would "
         "not raise; use one of the two")
    need(l.target_update_interval > 0, "loss.target-update-interval", l.target_update_interval, "must be > 0")
    need(e.episodes > 0, "eval.episodes", e.episodes, "must be > 0")
    need(e.every_env_steps > 0, "eval.every-env-steps", e.every_env_steps, "must be > 0")
    need(e.num_simulations > 0, "eval.num-simulations", e.num_simulations, "must be > 0")
    need(config.max_wall_s is None or config.max_wall_s > 0, "max-wall-s", config.max_wall_s,
         "must be > 0 seconds (or None: no limit)")
    need(config.planner.num_simulations > 0, "planner.num-simulations", config.planner.num_simulations,
         "must be > 0")
    need(n.hidden > 0 and n.latent > 0 and n.layers >= 0, "network.hidden", n.hidden,
         "network sizes must be positive")
    need(n.value_support > 0 and n.reward_support > 0, "network.value-support", n.value_support,
         "supports must be >= 1")
    need(n.value_scale > 0, "network.value-scale", n.value_scale,
         "must be > 0 (value targets are multiplied by it before the support; 1 leaves them as they are)")
    need(config.log_every_iterations > 0, "log-every-iterations", config.log_every_iterations, "must be > 0")
    need(config.checkpoint_every_env_steps > 0, "checkpoint-every-env-steps",
         config.checkpoint_every_env_steps, "must be > 0")
    need(config.keep_checkpoints >= 1, "keep-checkpoints", config.keep_checkpoints, "must be >= 1")


# --- the run folder's config.json ------------------------------------------------------

def save_config(run_dir: str | Path, config: TrainConfig) -> None:
    """Writes run_dir/config.json: every field, nested configs as objects."""
    (Path(run_dir) / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))


# Fields renamed since runs were first saved: (config class name, old name) -> new name,
# so that older run folders still resume.
RENAMED_FIELDS = {("PlannerConfig", "puct_implementation"): "implementation"}


def config_from_dict(cls: type, raw: dict):
    """Rebuilds a (nested) config dataclass from `dataclasses.asdict` output, reading each
    field's declared type, so a new nested config needs no registration here."""
    types = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    raw = {RENAMED_FIELDS.get((cls.__name__, name), name): value for name, value in raw.items()}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {unknown} (renamed or removed since the run was "
                          f"saved?); resume it with the version that wrote it, or start a new run")
    return cls(**{name: config_from_dict(types[name], value) if dataclasses.is_dataclass(types[name]) else value
                  for name, value in raw.items()})


def load_config(run_dir: str | Path) -> TrainConfig:
    """The TrainConfig saved in run_dir/config.json."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} has no config.json; pass a run folder made by train.py")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON ({err}); it was damaged or edited by hand") from None
    try:
        return config_from_dict(TrainConfig, raw)
    except TypeError as err:  # a nested config written as something other than an object
        raise ConfigError(f"{path} does not describe a TrainConfig: {err}") from None
