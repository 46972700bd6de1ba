"""Training: configs, acting, replay, targets, losses, the training loop, checkpoints."""
