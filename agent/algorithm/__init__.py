"""The jitted algorithm: everything inside the one compiled training iteration.

replay (device-resident windows), targets (n-step), losses (the unroll), spec and learner
(one optax update), schedules (everything that changes over a run), iteration (acting +
learning as one jitted function: `Agent`), rollout (the one episode loop). Imports
agent.config, search, networks and envs; nothing from agent.host or agent.tools.
"""
