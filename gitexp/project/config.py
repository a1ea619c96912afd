"""A DVC project's configuration files (``.dvc/config``, ``.dvc/config.local``), read as the INI files they are."""

from __future__ import annotations

import configparser
from pathlib import Path


def read_dvc_config(path: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None, strict=False)
    config.optionxform = str  # DVC's keys are case-sensitive
    if path.exists():
        config.read(path)
    return config


def dvc_cache_dir(project_root: Path) -> Path:
    """The cache directory the project at ``project_root`` uses (its config may move it)."""
    cache = project_root / ".dvc" / "cache"
    for name in ("config", "config.local"):
        config = read_dvc_config(project_root / ".dvc" / name)
        if config.has_option("cache", "dir"):
            cache = (project_root / ".dvc" / config.get("cache", "dir")).resolve()
    return cache
