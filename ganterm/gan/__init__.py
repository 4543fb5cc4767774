"""The trainer: torch only, no UI imports (a test keeps it that way)."""
