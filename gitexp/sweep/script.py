"""A script's command line as a sweep, as Grid.ai reads ``grid run main.py --alpha "uniform(1e-5, 1e-1, 3)"``.

Each flag whose value is a sweep (a list, or a call of the sweep language such
as ``uniform(1e-5, 1e-1, 3)`` or ``range(1, 10, 2)``) becomes an axis named as
argparse names the flag (``--batch-size`` is ``batch_size``), and its value in
the command a ``{{ name }}`` placeholder; other values are passed as written.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from gitexp.errors import UsageError
from gitexp.sweep.expr import parse_flag_value
from gitexp.sweep.space import Axis, ParamTarget

_FLAG = re.compile(r"--(?P<name>[A-Za-z_][\w.-]*)(?P<equals>=)?")


def script_sweep(argv: Sequence[str], *, evaluate: bool = True, seed: int = 0) -> tuple[str, list[Axis]]:
    """The command line (words shell-quoted, placeholders inside) and the axes its flags make.

    ``evaluate`` False is Grid.ai's ``--strategy none``: every flag as written, no axis.
    """
    if not argv:
        raise UsageError("no command after --: give the script to run, e.g. gitexp queue -- python main.py --lr '[0.1, 0.2]'")
    words, axes = [argv[0]], []
    index = 1
    while index < len(argv):
        word = argv[index]
        flag = _FLAG.match(word) if evaluate else None
        takes_next = flag is not None and flag.end() == len(word) and index + 1 < len(argv) and not argv[index + 1].startswith("--")
        if flag is None or not (flag["equals"] or takes_next):
            words.append(word)
            index += 1
            continue
        text = f"{word} {argv[index + 1]}" if takes_next else word
        start = len(word) + 1 if takes_next else flag.end()
        name = flag["name"].replace("-", "_")
        try:
            dimension = parse_flag_value(text, start, seed=seed, key=name)
        except UsageError as error:
            raise UsageError(f"the command's --{flag['name']}: {error.message}") from None
        if dimension is None:
            words += [word, argv[index + 1]] if takes_next else [word]
        else:
            if name in {str(axis.target) for axis in axes}:
                raise UsageError(f"--{flag['name']} is swept twice in the command: give it once")
            axes.append(Axis(ParamTarget(None, name), dimension))
            placeholder = f"{{{{ {name} }}}}"
            words += [word, placeholder] if takes_next else [word[: flag.end()] + placeholder]
        index += 2 if takes_next else 1
    return shlex.join(words), axes
