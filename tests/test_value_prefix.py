"""EfficientZero's value prefix: the LSTM's prefix differences are the edge rewards of
a searched tree, and its training target is the plain sum of rewards since a reset."""
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import search
from agent.algorithm.losses import unroll_loss
from agent.algorithm.spec import LearnerSpec
from agent.algorithm.targets import Targets
from agent.config import LossConfig, TrainConfig
from networks import MuZeroMLP, NetworkConfig, resets_value_prefix
from networks.support import logits_to_scalar

HORIZON = 2
CONFIG = NetworkConfig(hidden=8, latent=8, layers=1, value_support=3, reward_support=3, projection=4,
                       value_prefix_horizon=HORIZON, lstm_hidden=8)


def perturbed_prefix_model():
    """A value-prefix model whose heads predict something other than 0 (the output layers
    start at zero, so every weight is nudged at random)."""
    net = MuZeroMLP(3, 3, 2, CONFIG, rngs=nnx.Rngs(0))
    model, params = search.LearnedModel.from_network(net, (3,), 3)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    leaves = [x + 0.7 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys, strict=True)]
    return model, jax.tree.unflatten(treedef, leaves)


def expected_edge_reward(net, observation, path: list[int]) -> float:
    """The reward of the last edge of `path`, recomputed by hand: the prefix after that edge
    minus the prefix before it, where the LSTM and the prefix restart every HORIZON steps."""
    latent = net.represent(observation[None])
    state = net.initial_lstm_state(1)
    before = 0.0
    reward = None
    for depth, action in enumerate(path, start=1):
        latent, state, logits = net.dynamics_prefix(latent, state, jnp.array([action]))
        prefix = float(logits_to_scalar(logits)[0])
        reward = prefix - before
        before = prefix
        if resets_value_prefix(depth, HORIZON):
            state, before = net.initial_lstm_state(1), 0.0
    return reward


def test_edge_rewards_in_a_searched_tree_are_prefix_differences():
    model, params = perturbed_prefix_model()
    observations = jax.random.normal(jax.random.PRNGKey(2), (2, 3))
    out = search.plan(params, jax.random.PRNGKey(3), observations, model=model,
                      config=search.PlannerConfig(policy="muzero", num_simulations=24, dirichlet_fraction=0.0))
    tree = jax.device_get(out.tree)
    net = model.net(params)
    checked, depths, differs = 0, [], 0
    for b in range(observations.shape[0]):
        for node in range(1, tree.node_visits.shape[1]):
            parent = int(tree.parents[b, node])
            if parent < 0:
                continue  # not expanded
            path, walk = [], node
            while walk != 0:
                path.append(int(tree.action_from_parent[b, walk]))
                walk = int(tree.parents[b, walk])
            path.reverse()
            got = float(tree.children_rewards[b, parent, path[-1]])
            np.testing.assert_allclose(got, expected_edge_reward(net, observations[b], path), rtol=1e-4, atol=1e-4)
            depths.append(len(path))
            # Where the parent is not a reset point the reward is a difference, not the prefix itself.
            if (len(path) - 1) % HORIZON != 0:
                differs += abs(got - float(_prefix_after(net, observations[b], path))) > 1e-3
            checked += 1
    assert checked >= 20
    assert max(depths) > HORIZON, "the tree must reach past a reset to exercise it"
    assert differs > 0, "some edges must subtract the parent's prefix"


def _prefix_after(net, observation, path):
    """The raw prefix the LSTM predicts after `path` (with resets), not differenced."""
    latent = net.represent(observation[None])
    state = net.initial_lstm_state(1)
    prefix = None
    for depth, action in enumerate(path, start=1):
        latent, state, logits = net.dynamics_prefix(latent, state, jnp.array([action]))
        prefix = logits_to_scalar(logits)[0]
        if resets_value_prefix(depth, HORIZON):
            state = net.initial_lstm_state(1)
    return prefix


def test_the_loss_trains_the_prefix_on_sums_of_rewards():
    """With rewards 1, 2, 4 after the root, the prefix targets are 1, 3 and (after the reset at
    depth 2) 4: a few gradient steps on that batch bring the predictions there."""
    import optax

    net = MuZeroMLP(3, 3, 2, CONFIG, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(net)
    batch, k = 4, 3
    observation = jax.random.normal(jax.random.PRNGKey(0), (batch, 3))
    actions = jnp.zeros((batch, k), jnp.int32)
    ones = jnp.ones((batch, k + 1))
    targets = Targets(value=jnp.zeros((batch, k + 1)), reward=jnp.array([[0.0, 1.0, 2.0, 4.0]] * batch),
                      policy=jnp.full((batch, k + 1, 3), 1 / 3), features=jnp.zeros((batch, k + 1, 2)),
                      value_mask=ones, reward_mask=ones, policy_mask=ones)
    spec = LearnerSpec.from_config(TrainConfig(
        loss=LossConfig(unroll_steps=k, td_steps=1, value_weight=0.0, policy_weight=0.0, feature_weight=0.0),
        network=CONFIG))
    tx = optax.adam(1e-2)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt):
        grads, _ = jax.grad(unroll_loss, argnums=1, has_aux=True)(
            graphdef, params, observation, actions, targets, jnp.ones((batch,)), spec)
        updates, opt = tx.update(grads, opt)
        return optax.apply_updates(params, updates), opt

    for _ in range(300):
        params, opt = step(params, opt)
    trained = nnx.merge(graphdef, params)
    latent, state = trained.represent(observation), trained.initial_lstm_state(batch)
    predicted = []
    for depth in range(1, k + 1):
        latent, state, logits = trained.dynamics_prefix(latent, state, actions[:, depth - 1])
        predicted.append(float(logits_to_scalar(logits)[0]))
        if resets_value_prefix(depth, HORIZON):
            state = trained.initial_lstm_state(batch)
    np.testing.assert_allclose(predicted, [1.0, 3.0, 4.0], atol=0.15)
