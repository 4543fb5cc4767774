"""The live monitor: a Textual app over a Feed (train) or a checkpoint / run directory (view)."""
