"""Widgets of the monitor; each carries its own DEFAULT_CSS and renders from plain data."""
