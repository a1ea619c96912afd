"""gitexp: a Git-native experiment runner for DVC projects."""

__version__ = "0.1.0"
