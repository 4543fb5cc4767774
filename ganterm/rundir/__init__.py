"""The run directory, torch-free: writer, reader, command files, multi-run lists, export."""
