"""The command line: the click group, the environment commands see, the commands, progress display."""
