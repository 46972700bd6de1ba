"""EfficientZero's temporal consistency loss (SimSiam)."""
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from agent.algorithm.losses import consistency_loss, negative_cosine_similarity
from networks import MuZeroMLP, NetworkConfig


def test_negative_cosine_is_lowest_when_prediction_equals_target():
    target = jnp.array([[1.0, 2.0, -0.5]])
    np.testing.assert_allclose(negative_cosine_similarity(target, target), [-1.0], rtol=1e-6)
    np.testing.assert_allclose(negative_cosine_similarity(3.0 * target, target), [-1.0], rtol=1e-6)
    others = jax.random.normal(jax.random.PRNGKey(0), (64, 3))
    assert float(negative_cosine_similarity(others, jnp.broadcast_to(target, (64, 3))).min()) > -1.0


def test_no_gradient_reaches_the_target_branch():
    config = NetworkConfig(hidden=8, latent=8, layers=1, value_support=3, reward_support=2, projection=4)
    net = MuZeroMLP(4, 2, 4, config, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(net)
    latent = net.represent(jax.random.normal(jax.random.PRNGKey(1), (3, 4)))
    next_obs = jax.random.normal(jax.random.PRNGKey(2), (3, 4))

    def loss(params, latent, next_obs):
        return jnp.sum(consistency_loss(nnx.merge(graphdef, params), latent, next_obs))

    g_params, g_latent, g_next = jax.grad(loss, argnums=(0, 1, 2))(params, latent, next_obs)
    np.testing.assert_array_equal(g_next, 0.0)  # the real observation's branch is stop-gradient
    assert float(jnp.abs(g_latent).max()) > 0  # the unrolled latent's branch learns
    # The predictor only sits on the online branch, and it gets a gradient.
    assert float(jnp.abs(g_params["projection_predictor"]["out"]["kernel"][...]).max()) > 0
