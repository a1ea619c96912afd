"""Sharing trials through a Git remote: push, pull, apply, remove."""
