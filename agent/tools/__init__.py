"""Commands people run on a finished run: `python -m agent.tools.evaluate RUN` (returns
under any objective and model) and `python -m agent.tools.inspect RUN` (what the agent
optimises, next to a hand value). Imports agent.host and agent.algorithm."""
