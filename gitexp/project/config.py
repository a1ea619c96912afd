"""A DVC project's configuration files (``.dvc/config``, ``.dvc/config.local``), read as the INI files they are."""

from __future__ import annotations

import configparser
import re
from collections.abc import Sequence
from pathlib import Path

REMOTE_SECTION = re.compile(r'\s*remote\s*"(.*)"\s*\Z', re.IGNORECASE)  # DVC's own test of a section name (dvc.config)


def dvc_config_parser() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None, strict=False)
    config.optionxform = str  # DVC's keys are case-sensitive
    return config


def read_dvc_config(path: Path) -> configparser.ConfigParser:
    config = dvc_config_parser()
    if path.exists():
        config.read(path)
    return config


def names_a_remote(contents: Sequence[bytes | None]) -> bool | None:
    """Whether any of these config files (their contents; None: missing) has a ``['remote "NAME"']`` section;
    None when one is not INI that configparser reads (DVC's configobj reads more)."""
    config = dvc_config_parser()
    try:
        for text in contents:
            if text is not None:
                config.read_string(text.decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError):
        return None
    return any(REMOTE_SECTION.match(_unquoted(section.strip())) for section in config.sections())


def _unquoted(name: str) -> str:
    """A section name without the quotes configobj allows around it (``['remote "x"']`` is DVC's way)."""
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] and name[0] in "'\"" else name


def dvc_cache_dir(project_root: Path) -> Path:
    """The cache directory the project at ``project_root`` uses (its config may move it)."""
    cache = project_root / ".dvc" / "cache"
    for name in ("config", "config.local"):
        config = read_dvc_config(project_root / ".dvc" / name)
        if config.has_option("cache", "dir"):
            cache = (project_root / ".dvc" / config.get("cache", "dir")).resolve()
    return cache
