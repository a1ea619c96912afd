"""``python -m gitexp``: the command line, for when the console script is not on PATH."""

import sys

from gitexp.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
