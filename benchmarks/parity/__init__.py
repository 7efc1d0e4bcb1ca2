"""Proof that the twins are one model: parameters, forward pass, training steps, trajectories."""
