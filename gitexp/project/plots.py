"""The plots a project's dvc.yaml files declare, with their data in given commits, as DVC reads them.

``declared_plots`` asks DVC (``project.dvc.collect_plots``: definitions,
templates, ``x``/``y`` across files, directories of plots, image plots) and
answers plain data that the review layer draws; DVC's step curves of dvclive
(``dvclive/plots/metrics``) are left out, since the report draws those for
every ranked trial rather than for two commits.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitexp.project import dvc
from gitexp.project.model import load_project
from gitexp.store.git import Git

DVCLIVE_METRICS_DIR = "dvclive/plots/metrics/"
_DATA_URI = "data:image;base64,"


@dataclass(frozen=True)
class DeclaredPlot:
    """One plot of ``dvc plots show``: a Vega template over rows, or an image per commit."""

    id: str
    kind: str  # "vega" or "image"
    properties: dict[str, Any]  # template, x, y, title, x_label, y_label, ... as DVC resolved them
    rows: list[dict[str, Any]]  # vega: data rows, each with "rev" (the commit's label)
    images: dict[str, bytes] = field(default_factory=dict)  # image: label -> the image file
    missing: dict[str, list[str]] = field(default_factory=dict)  # label -> data files the commit lacks

    @property
    def title(self) -> str:
        return str(self.properties.get("title") or self.id)


def declared_plots(git: Git, directory: str, revs: Mapping[str, str]) -> list[DeclaredPlot]:
    """The plots of the project in ``directory`` for ``revs`` (label -> commit), dvclive's step curves aside.

    DVC is asked only when the first commit's project (cached, see ``load_project``) declares other plots.
    """
    if not revs or not _beyond_step_curves(git, next(iter(revs.values())), directory):
        return []
    found = []
    for plot in dvc.collect_plots(git.root, directory, revs):
        if plot["id"].startswith(DVCLIVE_METRICS_DIR):
            continue
        if plot["kind"] == "image":
            images = {row["rev"]: _image_bytes(row["src"]) for row in plot["datapoints"]}
            found.append(DeclaredPlot(plot["id"], "image", plot["properties"], [], images, plot["missing"]))
        else:
            found.append(DeclaredPlot(plot["id"], "vega", plot["properties"], plot["datapoints"], {}, plot["missing"]))
    return found


def _beyond_step_curves(git: Git, commit: str, directory: str) -> bool:
    project = load_project(git, commit, directory)
    steps = project.path(DVCLIVE_METRICS_DIR.rstrip("/"))
    return any(path != steps and not path.startswith(steps + "/") for path in project.plots_paths)


def _image_bytes(source: str) -> bytes:
    return base64.b64decode(source.removeprefix(_DATA_URI)) if source.startswith(_DATA_URI) else b""
