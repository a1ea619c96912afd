"""The vendored Vega builds: the versions and checksums manifest.json records, their licenses, and the inlined form."""

from __future__ import annotations

import hashlib
import re

from gitexp.review.vega import VENDOR, inline_scripts, manifest


def test_each_vendored_build_is_the_file_its_manifest_names_with_its_license():
    scripts = manifest()

    assert [(script["package"], script["version"].split(".")[0]) for script in scripts] == [
        ("vega", "6"), ("vega-lite", "6"), ("vega-embed", "7"),
    ]  # fmt: skip
    for script in scripts:
        content = (VENDOR / script["file"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == script["sha256"] and len(content) == script["bytes"]
        assert "Interactive Data Lab" in (VENDOR / script["license"]).read_text()
    assert 800_000 < sum(script["bytes"] for script in scripts) < 900_000


def test_the_inlined_builds_are_three_scripts_that_nothing_ends_early_and_that_point_to_no_file():
    inlined = str(inline_scripts())

    assert inlined.count("<script>") == 3 and inlined.count("</script>") == 3
    assert "sourceMappingURL" not in inlined and not re.search(r"<script[^>]*\bsrc=", inlined)
