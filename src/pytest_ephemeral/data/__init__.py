"""Seeds, sanitization, leak check, snapshot and restore."""
