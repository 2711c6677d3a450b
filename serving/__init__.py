"""Serving a model: an OpenAI-compatible HTTP server and a chat page."""
