"""GitHub: the REST client and pull requests."""
