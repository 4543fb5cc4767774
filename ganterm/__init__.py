"""ganterm: a terminal training monitor for GANs."""

__version__ = "0.1.0"
