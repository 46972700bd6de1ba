"""Training: configuration at the top, then three layers, each importing only those above it.

  agent.config, agent.objectives   what a run is: the typed config (presets, validation,
                                   config.json) and objectives by name
  agent.algorithm                  the jitted algorithm: acting, replay, targets, losses, the
                                   learner step, schedules, the iteration, the episode loop
  agent.host                       the host side of a run: the run loop, checkpoints, records,
                                   gymnasium evaluation
  agent.tools                      commands on a finished run: evaluate, inspect
"""
