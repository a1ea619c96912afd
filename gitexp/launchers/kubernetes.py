"""``gitexp k8s``: an Indexed Job of gitexp workers on a Kubernetes cluster.

Each pod clones the remote into an emptyDir (an init container), then runs
``gitexp worker --remote origin --idle-exit 60`` in the clone; the Job's
indexes are the workers. Every value a user gave reaches the containers through
``env`` only (``command`` lists refer to it as ``$(VAR)``, which Kubernetes
substitutes as one argument, no shell), and every literal ``$(`` and ``$$`` has its ``$`` doubled so
that Kubernetes' own ``$(VAR)`` expansion leaves the value as it was given.
The YAML is written without anchors or aliases, so each object reads on its own.
Credentials come from Secrets through ``envFrom`` and never appear in the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from gitexp.errors import UsageError
from gitexp.launchers.base import IDLE_EXIT, Launcher, LaunchOptions

MANIFEST_PATH = "gitexp.k8s.yaml"
SCRATCH = "/scratch"  # the pod's emptyDir: the clone, HOME, caches
CLONE = f"{SCRATCH}/repo"
RUN_AS = 1000  # a non-root uid and gid; the image's files must be readable by it
TTL_AFTER_FINISHED = 3600  # seconds a finished Job (and its pods' logs) stays before Kubernetes deletes it
BACKOFF_PER_INDEX = 1  # a worker pod that dies is started once more; the claim it left is taken over when stale
USAGE_EXIT = 2  # gitexp's exit status for bad input: retrying cannot help, so the Job fails at once

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
# An image reference (registry/path:tag@digest), as the distribution spec allows it.
IMAGE = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?\Z"
)
_EXPANDED = re.compile(r"\$(?=[($])")  # the dollars Kubernetes' expansion would act on
QUANTITY = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?\Z")

# The clone step: a deploy key from the secrets (GITEXP_SSH_KEY, GITEXP_SSH_KNOWN_HOSTS) becomes a file
# in the emptyDir that the clone's core.sshCommand uses; fixed text, values only from the environment.
CLONE_SCRIPT = """\
set -eu
mkdir -p "$HOME" "$XDG_CACHE_HOME"
if [ -n "${GITEXP_SSH_KEY:-}" ]; then
  mkdir -p "$HOME/.ssh" && umask 077
  printf '%s\\n' "$GITEXP_SSH_KEY" > "$HOME/.ssh/id_gitexp"
  printf '%s\\n' "${GITEXP_SSH_KNOWN_HOSTS:-}" > "$HOME/.ssh/known_hosts"
  export GIT_SSH_COMMAND="ssh -i $HOME/.ssh/id_gitexp -o IdentitiesOnly=yes -o UserKnownHostsFile=$HOME/.ssh/known_hosts"
fi
git clone --quiet -- "$GITEXP_REMOTE_URL" "$GITEXP_CLONE"
if [ -n "${GIT_SSH_COMMAND:-}" ]; then git -C "$GITEXP_CLONE" config core.sshCommand "$GIT_SSH_COMMAND"; fi
"""
# A token from the secrets (GITEXP_GIT_TOKEN, GITEXP_GIT_USERNAME) answers Git's HTTPS prompts; read when Git asks.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get && test -n "${GITEXP_GIT_TOKEN:-}" || return 0; '
    'echo "username=${GITEXP_GIT_USERNAME:-x-access-token}"; echo "password=$GITEXP_GIT_TOKEN"; }; f'
)


@dataclass(frozen=True)
class KubernetesOptions(LaunchOptions):
    image: str | None = None
    cpu: str | None = None
    memory: str | None = None
    secrets: tuple[str, ...] = ()
    namespace: str | None = None
    name: str = "gitexp-worker"

    def validate(self) -> None:
        if not self.image:
            raise UsageError(
                "gitexp k8s init needs --image: a container image with git, DVC and gitexp installed, "
                "such as ghcr.io/you/project:1"
            )
        if not IMAGE.match(self.image):
            raise UsageError(f"--image {self.image!r} is not an image reference: give one such as ghcr.io/you/project:1")
        super().validate()
        for flag, value in (("--cpu", self.cpu), ("--memory", self.memory)):
            if value is not None and not _positive_quantity(value):
                raise UsageError(f"{flag} {value!r} is not a Kubernetes quantity above 0: give one such as 2, 500m, 4Gi")
        _validate_dns("--namespace", self.namespace, DNS_LABEL, 63, "a namespace", "research")
        _validate_dns("--name", self.name, DNS_LABEL, 52, "a Job name", "gitexp-worker")
        for secret in self.secrets:
            _validate_dns("--secret", secret, DNS_SUBDOMAIN, 253, "a Secret name", "git-credentials")


class KubernetesLauncher(Launcher):
    name = "k8s"
    client = "kubectl"
    options_type = KubernetesOptions
    default_files = (MANIFEST_PATH,)
    example = {"image": "ghcr.io/example/project:1"}
    prints_when_missing = True

    def render(self, options: KubernetesOptions) -> dict[str, str]:
        options.validate()
        if not options.remote_url:
            raise UsageError("the pods need a Git remote to clone and take trials from: pass --remote NAME or URL")
        header = (
            "# gitexp workers as a Kubernetes Indexed Job, written by gitexp k8s init: edit and commit it,\n"
            "# then gitexp k8s submit (kubectl apply -f). Credentials come from the Secrets in envFrom.\n"
        )
        text = yaml.dump(job(options), Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=False)  # ASCII: no bidi control can hide text
        return {MANIFEST_PATH: header + text}

    def command(self, files: Sequence[Path], values: Mapping[str, str]) -> list[str]:
        argv = [self.client, "apply"]
        for file in files:
            argv += ["-f", str(file)]
        return argv


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:
        return True  # the pod template's labels are the Job's, written out twice rather than as an alias


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Scripts as ``|`` blocks, readable and editable; YAML falls back to quoting where a block cannot hold a value."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _string)


def job(options: KubernetesOptions) -> dict:
    """The Job object of ``options``."""
    labels = {"app.kubernetes.io/name": "gitexp-worker", "app.kubernetes.io/managed-by": "gitexp"}
    metadata = {"name": options.name, **({"namespace": options.namespace} if options.namespace else {}), "labels": labels}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "completionMode": "Indexed",
            "completions": options.workers,
            "parallelism": options.concurrency,
            "backoffLimitPerIndex": BACKOFF_PER_INDEX,
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED,
            "podFailurePolicy": {
                "rules": [{"action": "FailJob", "onExitCodes": {"containerName": "worker", "operator": "In", "values": [USAGE_EXIT]}}]
            },
            "template": {"metadata": {"labels": labels}, "spec": _pod(options)},
        },
    }


def _pod(options: KubernetesOptions) -> dict:
    sweep_arguments = [argument for index in range(len(options.sweeps)) for argument in ("--sweep", f"$(GITEXP_SWEEP_{index})")]
    worker = ["gitexp", "worker", "--remote", "origin", "--idle-exit", str(IDLE_EXIT), *sweep_arguments]
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [_container(options, "clone", ["sh", "-c", literal(CLONE_SCRIPT), "clone"], resources=False)],
        "containers": [_container(options, "worker", worker, resources=True)],
        "volumes": [{"name": "scratch", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
    }


def _container(options: KubernetesOptions, name: str, command: list[str], resources: bool) -> dict:
    container = {
        "name": name,
        "image": options.image,
        "command": command,
        "workingDir": CLONE if name == "worker" else SCRATCH,
        "env": _env(options),
        "envFrom": [{"secretRef": {"name": secret}} for secret in options.secrets],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "scratch", "mountPath": SCRATCH}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    if resources:
        container["resources"] = _resources(options)
    if not container["envFrom"]:
        del container["envFrom"]
    return container


def _resources(options: KubernetesOptions) -> dict:
    requests = {key: value for key, value in (("cpu", options.cpu), ("memory", options.memory)) if value}
    limits = {"memory": options.memory} if options.memory else {}
    if options.gpus_per_worker:
        limits["nvidia.com/gpu"] = options.gpus_per_worker
    return {key: value for key, value in (("requests", requests), ("limits", limits)) if value}


def _env(options: KubernetesOptions) -> list[dict]:
    """The containers' environment: the user's values (escaped for Kubernetes' expansion), then fixed settings."""
    values = {"GITEXP_REMOTE_URL": options.remote_url, "GITEXP_CLONE": CLONE}
    values.update({f"GITEXP_SWEEP_{index}": sweep for index, sweep in enumerate(options.sweeps)})
    values.update(
        {
            "HOME": f"{SCRATCH}/home",
            "XDG_CACHE_HOME": f"{SCRATCH}/cache",
            "DVC_SITE_CACHE_DIR": f"{SCRATCH}/cache/dvc",
            "TMPDIR": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": CREDENTIAL_HELPER,
            "GIT_AUTHOR_NAME": "gitexp worker",
            "GIT_AUTHOR_EMAIL": "gitexp-worker@users.noreply.invalid",
            "GIT_COMMITTER_NAME": "gitexp worker",
            "GIT_COMMITTER_EMAIL": "gitexp-worker@users.noreply.invalid",
        }
    )
    env = [{"name": name, "value": literal(value)} for name, value in values.items()]
    env.append({"name": "GITEXP_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    env.append({"name": "GITEXP_WORKER_ID", "value": "k8s-$(GITEXP_POD)"})  # claims name the pod
    return env


def literal(value: str) -> str:
    """``value`` as a field Kubernetes' ``$(VAR)`` expansion turns back into ``value``: a ``$`` that starts
    ``$(`` or ``$$`` is doubled (``$$`` is how Kubernetes spells one ``$``); any other ``$`` is kept as it is."""
    return _EXPANDED.sub("$$", value)


def _positive_quantity(value: str) -> bool:
    number = re.match(r"[\d.]*", value).group()
    return bool(QUANTITY.match(value)) and float(number or 0) > 0


def _validate_dns(flag: str, value: str | None, pattern: re.Pattern[str], limit: int, what: str, example: str) -> None:
    if value is not None and (len(value) > limit or not pattern.match(value)):
        characters = "lowercase letters, digits, '-' and '.'" if pattern is DNS_SUBDOMAIN else "lowercase letters, digits and '-'"
        raise UsageError(
            f"{flag} {value!r} is not {what} Kubernetes allows: use up to {limit} {characters}, "
            f"starting and ending with a letter or digit (such as {example})"
        )
