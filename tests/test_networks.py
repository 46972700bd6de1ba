"""Supports, the h(x) transform, and the MuZero MLP networks."""
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from networks import (
    MuZeroMLP,
    NetworkConfig,
    count_params,
    h,
    h_inv,
    logits_to_scalar,
    make_network,
    scalar_to_probs,
    support,
)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-400, max_value=400, allow_nan=False))
def test_h_inverse_round_trip(x):
    x = np.float32(x)
    assert abs(float(h_inv(h(jnp.asarray(x)))) - x) <= 2e-3 + 3e-6 * abs(x)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=-300, max_value=300, allow_nan=False))
def test_two_hot_is_a_distribution_with_the_right_mean(x):
    probs = scalar_to_probs(jnp.asarray(x, jnp.float32), 20)
    assert probs.shape == (41,)
    assert float(probs.min()) >= 0 and abs(float(probs.sum()) - 1) < 1e-5
    assert int((probs > 0).sum()) <= 2
    assert abs(float(h_inv((probs * support(20)).sum())) - x) <= 2e-3 + 1e-5 * abs(x)


def test_h_matches_its_formula_with_eps_outside_the_sign():
    x = jnp.array([-3.0, 0.0, 8.0])
    expected = jnp.sign(x) * (jnp.sqrt(jnp.abs(x) + 1) - 1) + 1e-3 * x
    np.testing.assert_allclose(h(x), expected, rtol=1e-6)


def test_logits_to_scalar_reads_a_peaked_distribution():
    logits = jnp.log(scalar_to_probs(jnp.array([2.5, -7.0]), 5) + 1e-12)
    np.testing.assert_allclose(logits_to_scalar(logits), [2.5, -7.0], atol=1e-3)


def test_value_scale_spreads_small_returns_over_the_support_and_reads_them_back():
    """network.value_scale: returns 0.735 and 0.774 (two neighbouring squares at discount 0.95) land
    0.015 of a bin apart (in the first bin) at scale 1 and 0.23 apart at 100; either way the value head's
    reading of its own target is the return."""
    returns = jnp.array([0.735, 0.774])
    for scale, bins_apart in ((1.0, 0.014), (100.0, 0.2)):
        net = MuZeroMLP(observation_dim=4, num_actions=2, num_features=1, rngs=nnx.Rngs(0),
                        config=NetworkConfig(hidden=8, latent=6, layers=1, value_scale=scale))
        targets = net.value_target(returns, 20)  # [2, 41]
        mean_bin = (targets * support(20)).sum(-1)
        assert abs(float(mean_bin[1] - mean_bin[0])) >= bins_apart
        assert abs(float(mean_bin[1] - mean_bin[0])) < 2 * bins_apart
        np.testing.assert_allclose(net.value_of(jnp.log(targets + 1e-12)), returns, rtol=1e-3)


def test_network_shapes_and_zero_initialised_heads():
    config = NetworkConfig(hidden=8, latent=6, layers=1, value_support=3, reward_support=2)
    net = MuZeroMLP(observation_dim=4, num_actions=3, num_features=5, config=config, rngs=nnx.Rngs(0))
    obs = jax.random.normal(jax.random.PRNGKey(0), (2, 4))
    latent = net.represent(obs)
    assert latent.shape == (2, 6)
    assert float(latent.min()) >= 0.0 and float(latent.max()) <= 1.0
    next_latent, reward_logits = net.dynamics(latent, jnp.array([0, 2]))
    policy_logits, value_logits = net.predict(next_latent)
    assert next_latent.shape == (2, 6) and reward_logits.shape == (2, 5)
    assert policy_logits.shape == (2, 3) and value_logits.shape == (2, 7)
    assert net.decode_features(latent).shape == (2, 5)
    # Zero-initialised output layers: uniform prior, value and reward exactly 0.
    np.testing.assert_array_equal(policy_logits, 0.0)
    np.testing.assert_allclose(logits_to_scalar(value_logits), 0.0, atol=1e-4)
    np.testing.assert_allclose(logits_to_scalar(reward_logits), 0.0, atol=1e-4)
    # The representation is not zero-initialised: different observations differ.
    assert float(jnp.abs(latent[0] - latent[1]).max()) > 0


def test_count_params_counts_every_scalar():
    config = NetworkConfig(hidden=8, latent=6, layers=1, value_support=3, reward_support=2)
    net = MuZeroMLP(observation_dim=4, num_actions=3, num_features=5, config=config, rngs=nnx.Rngs(0))
    _, params = nnx.split(net)
    # representation: 4*8+8 (+LN 16) + 8*6+6 = 110
    assert count_params(params.representation) == 4 * 8 + 8 + 2 * 8 + 8 * 6 + 6
    assert count_params(params) == sum(np.size(x) for x in jax.tree.leaves(params))


def test_mlps_without_layer_norm_have_no_norm_parameters_and_run():
    def count_norms(config):
        net = make_network((4,), 2, 4, config, rngs=nnx.Rngs(0))
        paths = [path for path, _ in nnx.to_flat_state(nnx.state(net, nnx.Param))]
        # the SimSiam projection heads keep theirs (they serve the consistency loss only)
        return sum("norms" in path and not path[0].startswith("projection") for path in paths), net

    with_norm, _ = count_norms(NetworkConfig(hidden=8, latent=8))
    without, net = count_norms(NetworkConfig(hidden=8, latent=8, layer_norm=False))
    assert with_norm > 0 and without == 0
    assert net.represent(jnp.ones((3, 4))).shape == (3, 8)


def test_residual_dynamics_start_at_no_change_and_learn_a_change():
    net = make_network((4,), 2, 4, NetworkConfig(hidden=8, latent=8, residual_dynamics=True), rngs=nnx.Rngs(0))
    latent = net.represent(jax.random.normal(jax.random.PRNGKey(0), (3, 4)))
    for action in (0, 1):
        next_latent, _ = net.dynamics(latent, jnp.full((3,), action))
        np.testing.assert_allclose(next_latent, latent, atol=1e-5)  # untrained: nothing changes
    # the trunk's output layer is what it learns: once it is not zero, the latent moves
    net.dynamics_trunk.out.bias[...] = jnp.linspace(-1.0, 1.0, 8)
    moved, _ = net.dynamics(latent, jnp.zeros((3,), jnp.int32))
    assert np.abs(np.asarray(moved - latent)).max() > 0.1
    plain = make_network((4,), 2, 4, NetworkConfig(hidden=8, latent=8), rngs=nnx.Rngs(0))
    assert np.abs(np.asarray(plain.dynamics(latent, jnp.zeros((3,), jnp.int32))[0] - latent)).max() > 0.1


def test_action_every_layer_reaches_the_dynamics_past_its_input():
    """network.action_every_layer: the one-hot action is read by every layer of the dynamics trunk.
    With the input layer's action weights zeroed, the next latent still depends on the action; without
    the flag it then does not."""
    latent_obs = jax.random.normal(jax.random.PRNGKey(0), (3, 4))
    for every, depends in ((True, True), (False, False)):
        net = make_network((4,), 2, 4, NetworkConfig(hidden=8, latent=8, action_every_layer=every), rngs=nnx.Rngs(0))
        first = net.dynamics_trunk.hidden[0]
        first.kernel[...] = first.kernel[...].at[8:].set(0.0)  # rows 8, 9 read the one-hot action
        latent = net.represent(latent_obs)
        left, _ = net.dynamics(latent, jnp.zeros((3,), jnp.int32))
        right, _ = net.dynamics(latent, jnp.ones((3,), jnp.int32))
        assert (np.abs(np.asarray(left - right)).max() > 1e-3) == depends


def test_value_heads_are_an_ensemble_whose_mixture_the_search_reads():
    """network.value_heads: E heads, each its own random MLP; predict's value is the heads' mean in
    h-space, and a one-head network's saved state has no trace of the option (old checkpoints load)."""
    config = NetworkConfig(hidden=8, latent=6, layers=1, value_support=5, value_heads=3)
    net = MuZeroMLP(observation_dim=4, num_actions=2, num_features=1, rngs=nnx.Rngs(0), config=config)
    for i, head in enumerate([net.value_head, *net.extra_value_heads]):  # outputs start at zero: randomise
        head.out.kernel[...] = jax.random.normal(jax.random.PRNGKey(i), head.out.kernel.shape)
    latent = net.represent(jnp.ones((2, 4)))
    _, per_head = net.predict_per_head(latent)
    assert per_head.shape == (3, 2, 11)
    heads_h = jnp.mean(jax.vmap(lambda l: jnp.sum(jax.nn.softmax(l) * support(5), -1))(per_head), axis=0)
    assert float(jnp.std(per_head)) > 0.1  # the heads disagree, so the check below is not trivial
    np.testing.assert_allclose(net.value_of(net.predict(latent)[1]), h_inv(heads_h), rtol=1e-5)
    one_head = MuZeroMLP(observation_dim=4, num_actions=2, num_features=1, rngs=nnx.Rngs(0),
                         config=NetworkConfig(hidden=8, latent=6, layers=1, value_support=5))
    assert "extra_value_heads" not in nnx.state(one_head)
    assert nnx.state(one_head)["value_head"] is not None


def test_an_observation_latent_model_starts_at_no_change_and_learns_the_next_observation():
    """network.observation_latent: the latent is the observation; an untrained dynamics predicts it
    unchanged, the loss's observation term is then |o_0 - o_k|^2 over the unroll, and gradient steps on
    that term alone teach the model a toy linear law (action 1 adds 0.3 to the first coordinate)."""
    import optax

    from agent.algorithm.losses import unroll_loss
    from agent.algorithm.spec import LearnerSpec
    from agent.algorithm.targets import Targets
    from agent.config import LossConfig, TrainConfig

    config = NetworkConfig(hidden=16, layers=1, value_support=3, reward_support=3, projection=4, observation_latent=True)
    net = MuZeroMLP(3, 2, 3, config, rngs=nnx.Rngs(0))
    batch, k = 16, 2
    observation = jax.random.normal(jax.random.PRNGKey(0), (batch, 3))
    actions = jax.random.bernoulli(jax.random.PRNGKey(1), shape=(batch, k)).astype(jnp.int32)
    step_change = jnp.array([0.3, 0.0, 0.0])
    next_observations = observation[:, None] + jnp.cumsum(actions, axis=1)[..., None] * step_change  # [B, K, 3]
    np.testing.assert_array_equal(net.represent(observation), observation)
    np.testing.assert_allclose(net.dynamics(observation, actions[:, 0])[0], observation, atol=1e-6)

    ones = jnp.ones((batch, k + 1))
    zeros = jnp.zeros((batch, k + 1))
    targets = Targets(value=zeros, reward=zeros, policy=jnp.full((batch, k + 1, 2), 0.5),
                      features=jnp.zeros((batch, k + 1, 3)), value_mask=ones, reward_mask=ones, policy_mask=ones)
    spec = LearnerSpec.from_config(TrainConfig(
        loss=LossConfig(unroll_steps=k, td_steps=1, value_weight=0.0, policy_weight=0.0, reward_weight=0.0,
                        feature_weight=0.0), network=config))
    graphdef, params = nnx.split(net)
    loss = jax.jit(lambda p: unroll_loss(graphdef, p, observation, actions, targets, jnp.ones((batch,)), spec,
                                         next_observations))
    by_hand = jnp.mean(jnp.sum((next_observations - observation[:, None]) ** 2, axis=-1))  # mean over k and batch
    np.testing.assert_allclose(loss(params)[1][0]["observation_loss"], by_hand, rtol=1e-5)
    assert float(by_hand) > 0.05

    tx = optax.adam(1e-2)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt):
        grads = jax.grad(lambda p: loss(p)[0])(params)
        updates, opt = tx.update(grads, opt)
        return optax.apply_updates(params, updates), opt

    for _ in range(300):
        params, opt = step(params, opt)
    assert float(loss(params)[1][0]["observation_loss"]) < 0.01 * float(by_hand)
