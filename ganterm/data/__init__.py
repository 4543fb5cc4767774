"""Datasets, all held in memory as tensors; batches are drawn by index."""
