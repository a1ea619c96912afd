"""gitexp ui: the local web page of experiments (server, API, static files)."""
