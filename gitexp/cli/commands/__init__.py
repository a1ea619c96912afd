"""Command modules: each registers its commands on ``gitexp.cli.main.cli``."""
