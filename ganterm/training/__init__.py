"""The loop and what serves it: state, checkpoints, run length, ranks, sampling, health."""
