"""``gitexp ci init``: the GitHub Actions workflow that runs trials in CI.

The workflow is rendered from ``gitexp/templates/workflow/gitexp.yml.j2`` with
ERB-style delimiters (``<% %>``, ``<%= %>``, ``<%# %>``), so GitHub's own
``${{ }}`` expressions pass through untouched. Every value a ``run:`` script
needs reaches it through ``env:``; the only text rendered into scripts is what
``validate()`` has checked against a conservative alphabet, quoted for the shell.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

from gitexp.ci.matrix import MATRIX_LIMIT, MAX_CHUNKS
from gitexp.errors import UsageError
from gitexp.review.comment import DEFAULT_PLOT_MODE, REPORT_ARTIFACT, check_plot_mode
from gitexp.store.naming import SWEEP_BRANCH_PREFIX, validate_prefix

WORKFLOW_PATH = Path(".github/workflows/gitexp.yml")
TEMPLATE_NAME = "gitexp.yml.j2"
# The workflow's generation, in its first line: what `ci start` needs of it (one run per sweep, the sweep branch trigger).
WORKFLOW_GENERATION = 2
WORKFLOW_MARKER = f"gitexp workflow {WORKFLOW_GENERATION}"
_MARKER_LINE = re.compile(r"\A# Written by `gitexp ci init` \(gitexp workflow (\d+)\)")
_WRITTEN_BY_GITEXP = "# Written by `gitexp ci init`"

RUNNERS = ("github", "cml")
CLOUDS = ("aws", "gcp", "azure", "kubernetes")
# The secrets `cml runner launch` reads for each cloud (cml.dev, "Cloud Compute Resource Credentials").
CLOUD_SECRETS = {
    "aws": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "azure": ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID"),
    "gcp": ("GOOGLE_APPLICATION_CREDENTIALS_DATA",),
    "kubernetes": ("KUBERNETES_CONFIGURATION",),
}
CML_ONLY_OPTIONS = (
    "cloud",
    "cloud_region",
    "cloud_type",
    "cloud_gpu",
    "cloud_spot",
    "cloud_hdd_size",
    "idle_timeout",
    "labels",
    "reuse_idle",
    "single",
)
RUNNER_LABEL_PREFIX = "cml-gitexp"
# GitHub's job time limits: 6 hours on its own runners, 5 days on self-hosted ones.
MAX_TIMEOUT_MINUTES = {"github": 6 * 60, "cml": 5 * 24 * 60}
MIN_PYTHON_MINOR = 10

SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # GitHub's rule for secret names
PYTHON_VERSION = re.compile(r"3\.(\d+)(\.\d+)?\Z")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
CLOUD_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:-]*\Z")  # us-west, t2.micro, m+k80, nvidia-tesla-t4
DURATION = re.compile(
    r"(?:\d+(?:\.\d+)?\s*(?:ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)\s*)+\Z"
)


@dataclass(frozen=True)
class ActionPin:
    """A third-party action at a full commit SHA, with the release it stands for."""

    repository: str
    commit: str
    version: str

    def __str__(self) -> str:
        return f"{self.repository}@{self.commit} # {self.version}"


ACTIONS = {
    "checkout": ActionPin(
        "actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"
    ),
    "setup_python": ActionPin(
        "actions/setup-python", "a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"
    ),
    "upload_artifact": ActionPin(
        "actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"
    ),
    "cache": ActionPin(
        "actions/cache", "0057852bfaa89a56745cba8c7296529d2fc39830", "v4.3.0"
    ),
    "setup_cml": ActionPin(
        "iterative/setup-cml", "f12ea7685438c1fc438d50f77519b3860cf5fa98", "v2.0.1"
    ),
}


@dataclass(frozen=True)
class WorkflowOptions:
    """What ``gitexp ci init`` asks of the workflow; the ``cloud*`` options and the
    runner options after them apply to ``runner="cml"`` only (flags of ``cml runner launch``)."""

    runner: str = "github"
    cloud: str | None = None
    cloud_region: str | None = None
    cloud_type: str | None = None
    cloud_gpu: str | None = None
    cloud_spot: bool = False
    cloud_hdd_size: int | None = None
    idle_timeout: int | str | None = None  # seconds, or a duration such as "5min" or "never"
    labels: tuple[str, ...] = ()
    reuse_idle: bool = False
    single: bool = False  # the runner stops after one job: fits runs of a single trial
    python: str = "3.11"
    branch_prefix: str = "exp/"
    install_spec: str = "gitexp"
    chunks: int = 4  # run jobs of up to 256 trials each
    timeout_minutes: int = 360  # per trial job
    secrets: tuple[str, ...] = ()  # repository secrets the run jobs see as environment variables (DVC remote credentials)
    report_plots: str = DEFAULT_PLOT_MODE  # the PR comment's plots: mermaid, images (pushed to the repository) or both

    def validate(self) -> None:
        """Raise ``UsageError`` naming the first option that is wrong and how to fix it."""
        self._validate_runner()
        if validate_prefix(self.branch_prefix).startswith(SWEEP_BRANCH_PREFIX):
            raise UsageError(
                f"the trial branch prefix {self.branch_prefix!r} is inside {SWEEP_BRANCH_PREFIX}, where the sweeps' own "
                "branches go: put trials under another prefix (git config gitexp.prefix exp/)"
            )
        _validate_python(self.python)
        _validate_install_spec(self.install_spec)
        _validate_in_range("--chunks", self.chunks, 1, MAX_CHUNKS, f"(each run job takes up to {MATRIX_LIMIT} trials)")
        _validate_in_range(
            "--timeout-minutes", self.timeout_minutes, 1, MAX_TIMEOUT_MINUTES[self.runner], f"for {self.runner} runners"
        )
        for secret in self.secrets:
            _validate_secret_name(secret)
        check_plot_mode(self.report_plots)
        if self.runner == "cml":
            self._validate_cml_options()

    def _validate_runner(self) -> None:
        if self.runner not in RUNNERS:
            raise UsageError(f"unknown runner {self.runner!r}: use --runner github or --runner cml")
        if self.runner == "github":
            given = [_flag(name) for name in CML_ONLY_OPTIONS if _is_given(getattr(self, name))]
            if given:
                raise UsageError(
                    f"{', '.join(given)} only apply to CML cloud runners: add --runner cml, or leave them out"
                )
        elif self.cloud is None:
            raise UsageError("--runner cml needs a cloud: add --cloud aws, gcp, azure or kubernetes")

    def _validate_cml_options(self) -> None:
        if self.cloud not in CLOUDS:
            raise UsageError(f"unknown cloud {self.cloud!r}: use --cloud aws, gcp, azure or kubernetes")
        for name in ("cloud_region", "cloud_type", "cloud_gpu"):
            value = getattr(self, name)
            if value is not None and not CLOUD_VALUE.match(value):
                raise UsageError(
                    f"{_flag(name)} {value!r} is not valid: use letters, digits, '.', '_', '+', ':' and '-' "
                    "(such as us-west, t2.micro or m+k80)"
                )
        if self.cloud_hdd_size is not None and self.cloud_hdd_size < 1:
            raise UsageError(f"--cloud-hdd-size {self.cloud_hdd_size} is not a disk size: give GB, such as 100")
        if self.idle_timeout is not None:
            _validate_idle_timeout(self.idle_timeout)
        for label in self.labels:
            _validate_label(label)
        if self.single and self.reuse_idle:
            raise UsageError("--single and --reuse-idle exclude each other in cml: keep one of them")

    @property
    def runner_label(self) -> str:
        """The label that ties the trial jobs to the CML runner: unique to the workflow run,
        or shared across runs with ``reuse_idle`` so that cml finds an idle runner to reuse."""
        if self.reuse_idle:
            return RUNNER_LABEL_PREFIX
        return RUNNER_LABEL_PREFIX + "-${{ github.run_id }}"


def render_workflow(options: WorkflowOptions) -> str:
    """The text of ``.github/workflows/gitexp.yml`` for ``options`` (validated first)."""
    options.validate()
    template = _template_environment().get_template(TEMPLATE_NAME)
    return template.render(
        options=options,
        actions=ACTIONS,
        marker=WORKFLOW_MARKER,
        sweep_branch_prefix=SWEEP_BRANCH_PREFIX,
        sweep_branch_pattern=SWEEP_BRANCH_PREFIX + "**",
        chunk_size=MATRIX_LIMIT,
        cloud_secrets=CLOUD_SECRETS.get(options.cloud, ()),
        cml_arguments=cml_launch_arguments(options),
        report_folder=REPORT_ARTIFACT,
    )


def write_workflow(repo_root: Path, options: WorkflowOptions, force: bool) -> Path:
    """Render and write the workflow into ``repo_root``; refuse to replace one unless ``force``."""
    text = render_workflow(options)
    path = repo_root / WORKFLOW_PATH
    if path.exists() and not force:
        raise UsageError(f"{WORKFLOW_PATH} already exists: pass --force to overwrite it")
    blocking = next((folder for folder in reversed(path.relative_to(repo_root).parents) if (repo_root / folder).is_file()), None)
    if blocking is not None:
        raise UsageError(f"{blocking.as_posix()} is a file, where the workflow needs a folder: move or remove it")
    if path.is_dir():
        raise UsageError(f"{WORKFLOW_PATH} is a folder, where the workflow file goes: move or remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text)
    return path


def check_workflow_text(text: str | None, where: str) -> None:
    """Refuse to start a run with a workflow that ``gitexp ci init`` did not write, or an older one wrote.

    ``where`` names the branch whose workflow file GitHub would run (e.g. "origin's main").
    """
    fix = f"run `gitexp ci init --force`, commit {WORKFLOW_PATH} and push it to {where}"
    if text is None:
        raise UsageError(f"{where} has no {WORKFLOW_PATH}: {fix.replace(' --force', '')}")
    generation = _MARKER_LINE.match(text)
    if generation is None and text.startswith(_WRITTEN_BY_GITEXP):
        raise UsageError(f"{WORKFLOW_PATH} on {where} was written by an older gitexp ci init (a run per trial branch): {fix}")
    if generation is None:
        raise UsageError(f"{WORKFLOW_PATH} on {where} was not written by gitexp ci init: {fix} (or start its runs yourself)")
    if int(generation.group(1)) != WORKFLOW_GENERATION:
        raise UsageError(f"{WORKFLOW_PATH} on {where} is of another gitexp version: {fix}")


def cml_launch_arguments(options: WorkflowOptions) -> list[str]:
    """The flags of ``cml runner launch``: those of the options given, quoted for the shell,
    and ``--labels`` with the run's label (``$RUNNER_LABEL``, from ``env:``) and the user's."""
    valued = {
        "--cloud": options.cloud,
        "--cloud-region": options.cloud_region,
        "--cloud-type": options.cloud_type,
        "--cloud-gpu": options.cloud_gpu,
        "--cloud-hdd-size": options.cloud_hdd_size,
        "--idle-timeout": options.idle_timeout,
    }
    switches = {"--cloud-spot": options.cloud_spot, "--reuse-idle": options.reuse_idle, "--single": options.single}
    arguments = [f"{flag}={shlex.quote(str(value))}" for flag, value in valued.items() if value is not None]
    arguments += [flag for flag, enabled in switches.items() if enabled]
    arguments.append('--labels="$RUNNER_LABEL' + "".join(f",{label}" for label in options.labels) + '"')
    return arguments


def _template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("gitexp", "templates/workflow"),
        block_start_string="<%",
        block_end_string="%>",
        variable_start_string="<%=",
        variable_end_string="%>",
        comment_start_string="<%#",
        comment_end_string="%>",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    environment.filters["yaml_string"] = _yaml_string
    return environment


def _yaml_string(value: object) -> str:
    """``value`` as a double-quoted YAML scalar (a JSON string is one)."""
    return json.dumps(str(value), ensure_ascii=False)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _flag(option_name: str) -> str:
    return "--" + option_name.replace("_", "-")


def _is_given(value: object) -> bool:
    if isinstance(value, (tuple, list)):
        return bool(value)
    return value is not None and value is not False


def _validate_python(version: str) -> None:
    match = PYTHON_VERSION.match(version)
    if not match or int(match.group(1)) < MIN_PYTHON_MINOR:
        raise UsageError(
            f"--python {version!r} is not a Python version gitexp runs on: "
            f"give 3.{MIN_PYTHON_MINOR} or newer, such as 3.11"
        )


def _validate_install_spec(spec: str) -> None:
    if not spec.strip() or any(character in spec for character in "\r\n"):
        raise UsageError(
            f"--install-spec {spec!r} is not one pip requirement: give one such as gitexp or gitexp==0.1.0"
        )


def _validate_in_range(flag: str, value: int, low: int, high: int, context: str) -> None:
    if not low <= value <= high:
        raise UsageError(f"{flag} {value} is out of range: give {low} to {high} {context}")


def _validate_idle_timeout(timeout: int | str) -> None:
    text = str(timeout).strip()
    if not (text.isdigit() or text == "never" or DURATION.match(text)):
        raise UsageError(
            f"--idle-timeout {timeout!r} is not a duration: give seconds (300), "
            "or a duration such as 5min, 1h or never"
        )


def _validate_label(label: str) -> None:
    if not LABEL.match(label):
        raise UsageError(
            f"--labels {label!r} is not a runner label: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, and separate labels with commas"
        )
    if label.lower() == "self-hosted":
        raise UsageError("the runner label 'self-hosted' is GitHub's own: choose another label")


def _validate_secret_name(name: str) -> None:
    if not SECRET_NAME.match(name) or name.upper().startswith("GITHUB_"):
        raise UsageError(
            f"--secret {name!r} is not a secret name GitHub allows: use letters, digits and '_', "
            "not starting with a digit or GITHUB_ (such as AWS_ACCESS_KEY_ID)"
        )
