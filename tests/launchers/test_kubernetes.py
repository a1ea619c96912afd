"""The Kubernetes Job manifest: valid against Kubernetes' own schema in every variant, locked down, and inert.

Values reach the pods only through ``env``; Kubernetes expands ``$(VAR)`` in env
values and commands, so the tests expand them as the kubelet does (``expand``)
and check what a container would really see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from gitexp.launchers.kubernetes import MANIFEST_PATH, KubernetesLauncher, KubernetesOptions, literal
from gitexp.store.git import Git

URL = "https://git.example.com/team/project.git"
IMAGE = "ghcr.io/example/project:1"
POD = "gitexp-worker-0-x7k2q"
SCHEMA_VERSIONS = ("1.29", kubernetes_validate.latest_version())  # backoffLimitPerIndex is beta and on from 1.29

VARIANTS = {
    "defaults": {},
    "one worker": {"workers": 1},
    "parallel below workers": {"workers": 8, "parallel": 3},
    "gpus": {"gpus_per_worker": 2},
    "cpu and memory": {"cpu": "500m", "memory": "4Gi"},
    "memory only": {"memory": "1.5G"},
    "secrets": {"secrets": ("git-credentials", "dvc.s3")},
    "namespace and name": {"namespace": "research", "name": "lr-workers"},
    "sweeps": {"sweeps": ("lr", "depth")},
    "an ssh remote": {"remote_url": "git@github.com:team/project.git"},
    "image by digest": {"image": "registry.example.com:5000/team/project@sha256:" + "a" * 64},
    "everything": {
        "workers": 100, "parallel": 10, "gpus_per_worker": 8, "cpu": "16", "memory": "64Gi",
        "secrets": ("git", "dvc"), "namespace": "ml", "sweeps": ("a",),
    },
}

HOSTILE = {
    "quotes": "https://h/p'q\"r.git",
    "command substitution": "https://h/$(touch /tmp/gitexp-pwned)`id`.git",
    "kubernetes reference": "https://h/$(GITEXP_POD)/$$(HOME)/$${X}/$.git",
    "newlines": "https://h/p.git\nkind: Secret\n---\napiVersion: v1",
    "yaml comment and mapping": "https://h/p.git : # not a comment",
    "yaml alias and anchor": "*anchor &anchor !!python/object:os.system [x]",
    "flow and block markers": "{a: [b, c]} | > - ? %TAG",
    "surrounding space": "  https://h/p.git \t",
    "shell": "https://h/p.git; rm -rf ~ && echo ${HOME} > /dev/null",
    "unicode": "https://h/pröject‮.git",
}


def render(**changes) -> str:
    options = KubernetesOptions(**{"image": IMAGE, "remote_url": URL, **changes})
    return KubernetesLauncher().render(options)[MANIFEST_PATH]


def pod_spec(document: dict) -> dict:
    return document["spec"]["template"]["spec"]


def containers(document: dict) -> list[dict]:
    return pod_spec(document)["initContainers"] + pod_spec(document)["containers"]


def expand(text: str, env: dict[str, str]) -> str:
    """``$(VAR)`` replaced by VAR when defined, ``$$`` by ``$``, everything else kept: Kubernetes' rules
    for env values, command and args (k8s.io/kubernetes third_party/forked/golang/expansion)."""
    out, index = [], 0
    while index < len(text):
        if text[index] != "$" or index + 1 == len(text):
            out.append(text[index])
            index += 1
        elif text[index + 1] == "$":
            out.append("$")
            index += 2
        elif text[index + 1] == "(" and ")" in text[index + 2 :]:
            end = text.index(")", index + 2)
            name = text[index + 2 : end]
            out.append(env.get(name, f"$({name})"))
            index = end + 1
        else:  # "$x" and an unclosed "$(" stay as they are
            out.append(text[index : index + 2])
            index += 2
    return "".join(out)


def container_env(container: dict, pod: str = POD) -> dict[str, str]:
    """The environment the kubelet gives ``container`` (no Secrets: none exist here)."""
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "valueFrom" in entry:
            assert entry["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
            env[entry["name"]] = pod
        else:
            env[entry["name"]] = expand(entry["value"], env)
    return env


def container_command(container: dict, pod: str = POD) -> list[str]:
    env = container_env(container, pod)
    return [expand(argument, env) for argument in container["command"]]


def strings(node, path=()):
    """Every string in a parsed document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


def test_the_expansion_the_tests_use_is_kubernetes():
    env = {"A": "x"}
    assert expand("$(A)-$$(A)-$$$(A)-$(B)-$A-$-$(", env) == "x-$(A)-$x-$(B)-$A-$-$("
    for text in (*HOSTILE.values(), "$", "$$", "$$$", "$(", "$()", "$$(A)", "a$"):
        assert expand(literal(text), env) == text


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_passes_the_kubernetes_schema(variant, version):
    documents = list(yaml.safe_load_all(render(**VARIANTS[variant])))
    assert len(documents) == 1
    kubernetes_validate.validate(documents[0], version, strict=True)


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_remote_passes_the_schema_too(name, version):
    kubernetes_validate.validate(yaml.safe_load(render(remote_url=HOSTILE[name])), version, strict=True)


def test_the_job_is_indexed_with_the_workers_the_parallelism_and_bounds():
    spec = yaml.safe_load(render(workers=8, parallel=3))["spec"]
    assert spec["completionMode"] == "Indexed"
    assert (spec["completions"], spec["parallelism"]) == (8, 3)
    assert spec["backoffLimitPerIndex"] == 1 and spec["ttlSecondsAfterFinished"] > 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # what backoffLimitPerIndex requires
    assert yaml.safe_load(render(workers=5))["spec"]["parallelism"] == 5
    rule = spec["podFailurePolicy"]["rules"][0]  # bad input (exit 2) fails the Job instead of retrying it
    assert rule == {"action": "FailJob", "onExitCodes": {"containerName": "worker", "operator": "In", "values": [2]}}


def test_pods_run_as_non_root_without_a_token_privilege_escalation_or_a_writable_root():
    document = yaml.safe_load(render(gpus_per_worker=1, secrets=("git",)))
    pod = pod_spec(document)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert not {"hostNetwork", "hostPID", "hostIPC", "serviceAccountName"} & set(pod)
    assert all(set(volume) == {"name", "emptyDir"} for volume in pod["volumes"])
    for container in containers(document):
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]} and "privileged" not in security
        assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/scratch", "/tmp"}
        env = container_env(container)
        for name in ("HOME", "XDG_CACHE_HOME", "DVC_SITE_CACHE_DIR", "GITEXP_CLONE"):
            assert env[name].startswith("/scratch/")  # everything written goes to the emptyDir


def test_resources_ask_for_gpus_cpu_and_memory_only_when_given():
    worker = pod_spec(yaml.safe_load(render(gpus_per_worker=4, cpu="2", memory="8Gi")))["containers"][0]
    assert worker["resources"] == {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi", "nvidia.com/gpu": 4}}
    bare = pod_spec(yaml.safe_load(render()))["containers"][0]
    assert "resources" not in bare or bare["resources"] == {}


def test_secrets_reach_both_containers_through_env_from_only():
    document = yaml.safe_load(render(secrets=("git-credentials", "dvc-s3")))
    for container in containers(document):
        assert container["envFrom"] == [{"secretRef": {"name": "git-credentials"}}, {"secretRef": {"name": "dvc-s3"}}]
        assert all(set(entry.get("valueFrom", {})) <= {"fieldRef"} for entry in container["env"])
    assert "envFrom" not in containers(yaml.safe_load(render()))[0]


def test_the_pods_clone_then_run_the_worker_with_the_sweeps_and_a_worker_id_naming_the_pod():
    document = yaml.safe_load(render(sweeps=("lr", "depth")))
    clone, worker = containers(document)
    assert container_command(worker) == [
        "gitexp", "worker", "--remote", "origin", "--idle-exit", "60", "--sweep", "lr", "--sweep", "depth"
    ]
    assert worker["workingDir"] == container_env(worker)["GITEXP_CLONE"]
    assert container_env(worker)["GITEXP_WORKER_ID"] == f"k8s-{POD}"
    assert container_command(clone)[:2] == ["sh", "-c"] and container_env(clone)["GITEXP_REMOTE_URL"] == URL
    assert container_command(containers(yaml.safe_load(render()))[1])[-2:] == ["--idle-exit", "60"]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_value_arrives_verbatim_in_env_and_nowhere_else(name):
    value = HOSTILE[name]
    text = render(remote_url=value, sweeps=("lr",))
    assert text.isascii()  # non-ASCII (a bidi override too) is escaped, so the file shows what it holds
    documents = list(yaml.safe_load_all(text))
    assert len(documents) == 1 and documents[0]["kind"] == "Job"
    baseline = yaml.safe_load(render(remote_url="https://marker.invalid/x", sweeps=("lr",)))
    for clone_or_worker, reference in zip(containers(documents[0]), containers(baseline)):
        assert container_env(clone_or_worker)["GITEXP_REMOTE_URL"] == value
        assert clone_or_worker["command"] == reference["command"]  # the commands never change with a value
    where = [path for path, string in strings(documents[0]) if string == literal(value) or value.strip() in string]
    assert all(path[-3:-1] == ("env", 0) and path[-1] == "value" for path in where), where
    assert len(where) == 2  # the clone's and the worker's GITEXP_REMOTE_URL


TOKEN = "github_pat_" + "k8s" * 12  # the Secret's GITEXP_GIT_TOKEN


def run_container(container: dict, command: list[str], scratch: Path, secrets: dict[str, str]) -> subprocess.CompletedProcess:
    """``container`` as the kubelet would start it: its env (the Secrets' keys first, as envFrom puts them),
    its working directory, ``/scratch`` mapped to ``scratch``; PATH and PYTHONPATH from this test."""
    env = {**secrets, **{name: value.replace("/scratch", str(scratch)) for name, value in container_env(container).items()}}
    env |= {"PATH": os.environ["PATH"], "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    cwd = container["workingDir"].replace("/scratch", str(scratch))
    command = [part.replace("/scratch", str(scratch)) for part in command]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_a_pod_run_as_the_kubelet_would_clones_with_the_secrets_token_and_works_the_queue(project, bare_remote, run_gitexp, tmp_path):
    """The manifest's containers run here against a Git server that wants the token (the worker's
    --idle-exit shortened): every trial gets one result, committed as the pod, and the token is
    nowhere but in the environment."""
    from tests.git_http import serve_git

    project.run("remote", "add", "origin", str(bare_remote))
    project.run("push", "-q", "origin", "main")
    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.1, 0.2]").code == 0
    assert run_gitexp(project.root, "push", "origin", "s").code == 0
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with serve_git(bare_remote.parent, "x-access-token", TOKEN) as server:
        url = server.url.replace(f"x-access-token:{TOKEN}@", "") + "/" + bare_remote.name
        text = render(remote_url=url, sweeps=("s",), secrets=("git-credentials",))
        clone, worker = containers(yaml.safe_load(text))
        cloned = run_container(clone, container_command(clone), scratch, {"GITEXP_GIT_TOKEN": TOKEN})
        assert cloned.returncode == 0, cloned.stderr
        command = container_command(worker)
        command[command.index("--idle-exit") + 1] = "0"
        worked = run_container(worker, [sys.executable, "-m", *command], scratch, {"GITEXP_GIT_TOKEN": TOKEN})
        assert worked.returncode == 0, worked.stderr
    assert f"worker k8s-{POD} taking trials" in worked.stdout
    remote = Git(bare_remote)
    for trial in ("t001", "t002"):  # one result each, committed as the pod's identity
        results = remote.run("log", "--format=%an: %(trailers:key=Gitexp-Status,valueonly,separator=)", f"exp/s/{trial}", "--not", "main")
        assert [line for line in results.splitlines() if line.split(": ")[1]] == ["gitexp worker: succeeded"]
    assert remote.run("for-each-ref", "refs/gitexp/claims/") == ""
    assert len(server.authorizations) > 2 and TOKEN not in text
    for output in (cloned.stdout, cloned.stderr, worked.stdout, worked.stderr):
        assert TOKEN not in output
    assert not [path for path in scratch.rglob("*") if path.is_file() and TOKEN.encode() in path.read_bytes()]


def test_a_deploy_key_from_the_secrets_becomes_private_files_the_clone_uses(bare_remote, tmp_path):
    Git(tmp_path).run("clone", "-q", str(bare_remote), str(tmp_path / "seed"))  # an empty remote clones too
    clone = containers(yaml.safe_load(render(remote_url=str(bare_remote))))[0]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn $(not run)\n-----END OPENSSH PRIVATE KEY-----"
    secrets = {"GITEXP_SSH_KEY": key, "GITEXP_SSH_KNOWN_HOSTS": "github.com ssh-ed25519 AAAA"}
    cloned = run_container(clone, container_command(clone), scratch, secrets)
    assert cloned.returncode == 0, cloned.stderr
    ssh = scratch / "home" / ".ssh"
    assert (ssh / "id_gitexp").read_text() == key + "\n" and (ssh / "id_gitexp").stat().st_mode & 0o077 == 0
    assert (ssh / "known_hosts").read_text() == "github.com ssh-ed25519 AAAA\n"
    ssh_command = Git(scratch / "repo").run("config", "core.sshCommand").strip()
    assert ssh_command == f"ssh -i {ssh}/id_gitexp -o IdentitiesOnly=yes -o UserKnownHostsFile={ssh}/known_hosts"
