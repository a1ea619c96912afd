"""Executors: where and how trials run (local worktrees, remote workers, CI jobs)."""
