"""gitexp k8s init and submit through the real command line, with a kubectl stand-in that checks what it gets.

No cluster is reachable here, so ``kubectl`` is a stand-in on PATH: it records its
argv and working directory, and accepts only ``apply -f FILE`` of a file that is
one Job passing Kubernetes' strict schema, as a server would (``job.batch/NAME
created``), else fails with kubectl-like words.
"""

from __future__ import annotations

import json
import re
import time
import os
import sys
from pathlib import Path

import pytest
import yaml

HOSTILE_URL = "https://git.example.com/a'b\"$(touch pwned)`id`: #*anchor &x {y}.git"

KUBECTL = """\
import json, os, sys
import kubernetes_validate, yaml
argv = sys.argv[1:]
json.dump({"argv": argv, "cwd": os.getcwd()}, open(os.environ["KUBECTL_RECORD"], "w"))
if len(argv) != 3 or argv[:2] != ["apply", "-f"]:
    sys.exit(f"error: unknown command {argv!r}")
try:
    documents = list(yaml.safe_load_all(open(argv[2])))
    assert len(documents) == 1 and documents[0]["kind"] == "Job", "not one Job"
    kubernetes_validate.validate(documents[0], kubernetes_validate.latest_version(), strict=True)
except Exception as exc:
    sys.exit(f'error: error validating "{argv[2]}": {str(exc).splitlines()[0]}')
print(f"job.batch/{documents[0]['metadata']['name']} created")
"""


@pytest.fixture
def origin(project, tmp_path) -> str:
    url = "https://git.example.com/team/project.git"
    project.run("remote", "add", "origin", url)
    return url


@pytest.fixture
def bin_dir(tmp_path) -> Path:
    """A PATH with git alone: no kubectl, whatever the machine has."""
    path = tmp_path / "bin"
    path.mkdir()
    git = next(Path(folder) / "git" for folder in os.environ["PATH"].split(os.pathsep) if (Path(folder) / "git").is_file())
    (path / "git").symlink_to(git)
    return path


def with_kubectl(bin_dir: Path, record: Path) -> dict[str, str]:
    script = bin_dir / "kubectl"
    script.write_text(f"#!{sys.executable}\n{KUBECTL}")
    script.chmod(0o755)
    return {"PATH": str(bin_dir), "KUBECTL_RECORD": str(record)}


def env_values(document: dict, name: str) -> list[str]:
    spec = document["spec"]["template"]["spec"]
    return [
        entry["value"] for container in spec["initContainers"] + spec["containers"] for entry in container["env"] if entry["name"] == name
    ]


def test_init_writes_the_manifest_for_the_remote_and_names_the_secrets_to_create(project, origin, run_gitexp):
    result = run_gitexp(
        project.root, "k8s", "init", "--image", "ghcr.io/team/project:1", "--workers", "4", "--parallel", "2",
        "--gpus-per-worker", "1", "--secret", "git-credentials", "--secret", "dvc-s3", "--secret", "dvc-s3",
    )
    assert result.code == 0, result.err
    assert "Wrote gitexp.k8s.yaml" in result.out
    assert "Create the Secret git-credentials first" in result.out and "Note:" not in result.out and result.out.count("dvc-s3 first") == 1
    document = yaml.safe_load((project.root / "gitexp.k8s.yaml").read_text())
    assert (document["spec"]["completions"], document["spec"]["parallelism"]) == (4, 2)
    assert env_values(document, "GITEXP_REMOTE_URL") == [origin, origin]
    worker = document["spec"]["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert [source["secretRef"]["name"] for source in worker["envFrom"]] == ["git-credentials", "dvc-s3"]
    assert project.run("status", "--porcelain").strip() == "?? gitexp.k8s.yaml"  # nothing else, no commit


def test_init_refuses_to_replace_the_manifest_without_force(project, origin, run_gitexp):
    manifest = project.root / "gitexp.k8s.yaml"
    manifest.write_text("# edited\n")
    refused = run_gitexp(project.root, "k8s", "init", "--image", "ghcr.io/team/project:1")
    assert refused.code == 2 and "gitexp.k8s.yaml already exists: pass --force" in refused.err
    assert manifest.read_text() == "# edited\n"
    assert run_gitexp(project.root, "k8s", "init", "--image", "ghcr.io/team/project:1", "--force").code == 0
    assert yaml.safe_load(manifest.read_text())["kind"] == "Job"


def test_a_hostile_remote_url_reaches_the_pods_verbatim_through_env_only(project, run_gitexp, tmp_path):
    project.run("remote", "add", "hostile", HOSTILE_URL)
    result = run_gitexp(project.root, "k8s", "init", "--image", "ghcr.io/team/project:1", "--remote", "hostile", "--sweep", "s")
    assert result.code == 0, result.err
    text = (project.root / "gitexp.k8s.yaml").read_text()
    document = yaml.safe_load(text)
    # The only $( in the URL is doubled, which Kubernetes' expansion turns back into one $.
    assert env_values(document, "GITEXP_REMOTE_URL") == [HOSTILE_URL.replace("$(", "$$(")] * 2
    assert text.count("touch pwned") == 2
    assert not list(tmp_path.rglob("pwned"))


def test_init_from_a_subfolder_writes_at_the_top_and_takes_a_url_or_path_remote(project, bare_remote, run_gitexp):
    (project.root / "sub").mkdir()
    result = run_gitexp(project.root / "sub", "k8s", "init", "--image", "ghcr.io/team/project:1", "--remote", str(bare_remote))
    assert result.code == 0, result.err
    document = yaml.safe_load((project.root / "gitexp.k8s.yaml").read_text())
    assert env_values(document, "GITEXP_REMOTE_URL")[0] == str(bare_remote)
    assert f"Note: the pods clone {bare_remote}, a path on this machine" in result.out


def test_submit_applies_the_manifest_with_kubectl_and_relays_its_answer(project, origin, run_gitexp, bin_dir, tmp_path):
    assert run_gitexp(project.root, "k8s", "init", "--image", "ghcr.io/team/project:1", "--name", "lr-workers").code == 0
    record = tmp_path / "kubectl.json"
    (project.root / "sub").mkdir()
    result = run_gitexp(project.root / "sub", "k8s", "submit", env=with_kubectl(bin_dir, record))
    assert result.code == 0, result.err
    assert "job.batch/lr-workers created" in result.out and "gitexp status --watch" in result.out
    assert json.loads(record.read_text()) == {"argv": ["apply", "-f", "gitexp.k8s.yaml"], "cwd": str(project.root.resolve())}


def test_submit_of_a_named_file_and_a_kubectl_refusal_in_one_line(project, origin, run_gitexp, bin_dir, tmp_path):
    (project.root / "k8s").mkdir()
    record = tmp_path / "kubectl.json"
    env = with_kubectl(bin_dir, record)
    assert run_gitexp(project.root, "k8s", "init", "--image", "ghcr.io/team/project:1").code == 0
    (project.root / "gitexp.k8s.yaml").rename(project.root / "k8s" / "big.yaml")
    accepted = run_gitexp(project.root / "k8s", "k8s", "submit", "--file", "big.yaml", env=env)
    assert accepted.code == 0, accepted.err
    assert json.loads(record.read_text())["argv"] == ["apply", "-f", "k8s/big.yaml"]
    broken = project.root / "k8s" / "big.yaml"
    broken.write_text(broken.read_text().replace("completionMode: Indexed", "completionMode: Indexed\n  bogusField: 1"))
    refused = run_gitexp(project.root, "k8s", "submit", "--file", "k8s/big.yaml", env=env)
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert refused.err.startswith("gitexp: error: kubectl apply -f k8s/big.yaml failed (exit 1): error: error validating")


def test_submit_without_kubectl_prints_the_command_and_succeeds(project, origin, run_gitexp, bin_dir):
    assert run_gitexp(project.root, "k8s", "init", "--image", "ghcr.io/team/project:1").code == 0
    result = run_gitexp(project.root, "k8s", "submit", env={"PATH": str(bin_dir)})
    assert result.code == 0, result.err
    assert result.out == f"kubectl is not installed here: run kubectl apply -f gitexp.k8s.yaml (from {project.root.resolve()}) where it is\n"


def test_submit_before_init_says_to_write_the_manifest(project, run_gitexp, bin_dir, tmp_path):
    result = run_gitexp(project.root, "k8s", "submit", env=with_kubectl(bin_dir, tmp_path / "kubectl.json"))
    assert result.code == 2 and "gitexp.k8s.yaml does not exist: write it with gitexp k8s init" in result.err
    assert not (tmp_path / "kubectl.json").exists()


def test_status_lists_the_trials_kubernetes_pods_hold_on_the_remote_and_which_are_stale(project, bare_remote, run_gitexp):
    from gitexp.execution.claims import Claims, Runner
    from gitexp.store.records import Ledger
    from gitexp.store.remote import RemoteRefs, resolve_remote

    project.run("remote", "add", "origin", str(bare_remote))
    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.1, 0.2, 0.3]").code == 0
    assert run_gitexp(project.root, "push", "origin", "s").code == 0
    assert run_gitexp(project.root, "k8s", "status").out == "No Kubernetes worker holds a trial on origin\n"
    trials = {trial.name: trial for trial in Ledger(project).trials()}
    remote = resolve_remote(project, "origin")

    def claims(worker: str, age: float = 0) -> Claims:
        return Claims(project, RemoteRefs(project, remote), Runner(worker, clone=worker), clock=lambda: time.time() - age)

    assert claims("k8s-gitexp-worker-0-x7k2q").take(trials["t002"])
    assert claims("k8s-gitexp-worker-1-p9q8r", age=3600).take(trials["t003"])
    assert claims("laptop-1234-abcd").take(trials["t001"])
    result = run_gitexp(project.root, "k8s", "status")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [line.split()[:2] for line in lines] == [["s/t002", "gitexp-worker-0-x7k2q"], ["s/t003", "gitexp-worker-1-p9q8r"]]
    assert lines[0].endswith("running") and re.search(r"heartbeat 36\d\ds ago  stale: the next worker takes it over", lines[1])
