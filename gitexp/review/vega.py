"""The vendored Vega, Vega-Lite and vega-embed builds (gitexp/ui/static/vendor), for pages that draw offline.

The ui serves them as files; the HTML report inlines them, so its Vega-Lite
charts draw from one file with no network. ``manifest.json`` beside them holds
each build's package, version and sha256.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

VENDOR = Path(__file__).parent.parent / "ui" / "static" / "vendor"
SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)  # a file a browser's tools would fetch


def manifest() -> list[dict[str, Any]]:
    """The vendored builds in load order (Vega, Vega-Lite, vega-embed)."""
    return json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))["scripts"]


@cache
def inline_scripts() -> Markup:
    """The builds as ``<script>`` elements for one self-contained page."""
    tags = []
    for script in manifest():
        code = SOURCE_MAP.sub("", (VENDOR / script["file"]).read_text(encoding="utf-8"))
        label = f"{script['package']} {script['version']}, {script['license']}"
        code = code.replace("</script", "<\\/script")  # none in these builds; an update cannot end the element early
        tags.append(f"<script>/* {label} */\n{code}</script>")
    return Markup("\n".join(tags))
