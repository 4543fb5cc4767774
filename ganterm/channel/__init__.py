"""UI <-> trainer, torch- and Textual-free: feed, control, metric history, chart layout."""
