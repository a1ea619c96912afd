"""The vendored Vega builds: the versions and checksums manifest.json records, their licenses, and the inlined form."""

from __future__ import annotations

import hashlib

from gitexp.review.vega import VENDOR, inline_script, manifest


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


def test_an_inlined_build_is_labelled_and_nothing_in_it_ends_its_element_early_or_points_to_a_file():
    for script in manifest():
        inlined = inline_script(f"vendor/{script['file']}")

        assert inlined.startswith(f"/* {script['package']} {script['version']}, {script['license']} */\n")
        assert "</script" not in inlined and "sourceMappingURL" not in inlined
