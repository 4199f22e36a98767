"""Helpers for tests that drive real processes: the stack, a webhook receiver, an API client."""
