"""Plumbing every command may import, and that imports nothing else of this project: where outputs go (`outputs`)."""
