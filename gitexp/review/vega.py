"""The vendored Vega, Vega-Lite and vega-embed builds (gitexp/ui/static/vendor), for pages that draw offline.

The ui serves them and its own scripts as files; the HTML report (the ui's page
as one file, gitexp/ui/twin.py) inlines them, so its charts draw with no network.
``manifest.json`` beside the builds holds each one's package, version and sha256.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent.parent / "ui" / "static"
VENDOR = STATIC / "vendor"
SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)  # a file a browser's tools would fetch


def manifest() -> list[dict[str, Any]]:
    """The vendored builds in load order (Vega, Vega-Lite, vega-embed)."""
    return json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))["scripts"]


@cache
def inline_script(path: str) -> str:
    """The text of a ``<script>`` element that holds ``static/<path>``, labelled with its package for a build."""
    builds = {f"vendor/{script['file']}": script for script in manifest()}
    build = builds.get(path)
    label = f"{build['package']} {build['version']}, {build['license']}" if build else f"gitexp {path}"
    code = SOURCE_MAP.sub("", (STATIC / path).read_text(encoding="utf-8"))
    code = code.replace("</script", "<\\/script")  # none in these files; an update cannot end the element early
    return f"/* {label} */\n{code}"
