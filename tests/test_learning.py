"""The learning bar: CartPole-v1 solved (mean eval return >= 475 over 20 episodes)
within 5,000 env steps, fixed seed, default preset, on a 2-core CPU."""
import dataclasses

from agent.algorithm.iteration import Agent
from agent.config import preset
from agent.host.gym_eval import evaluate_on_gymnasium
from agent.host.run import train


def test_cartpole_reaches_475_within_5000_env_steps(tmp_path):
    base = preset("cartpole")
    config = dataclasses.replace(
        base, seed=0, total_env_steps=5_000, out=str(tmp_path / "run"), eval_on_gymnasium=False,
        eval=dataclasses.replace(base.eval, episodes=20, stop_at_return=475.0))
    result = train(config, quiet=True)
    assert result.env_steps <= 5_000
    assert result.final_eval_mean >= 475.0, f"eval return {result.final_eval_mean} after {result.env_steps} steps"
    # The same parameters on gymnasium's own CartPole-v1 (the JAX env is a faithful copy).
    returns = evaluate_on_gymnasium(Agent(config), result.state.learner.params, episodes=20,
                                    num_simulations=config.eval.num_simulations, seed=1)
    assert returns.mean() >= 400.0, returns
