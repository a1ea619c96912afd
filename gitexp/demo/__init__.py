"""The bundled demo project and the command that builds it."""
