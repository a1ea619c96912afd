"""What ``gitexp --help`` and each command's help show besides the options: sections and examples.

One table each, so a new command gets its place in ``gitexp --help`` and its
examples here, without touching its decorator (the group applies them).
"""

from __future__ import annotations

# Sections of ``gitexp --help``, in the order users meet them: section -> its commands.
SECTIONS: dict[str, tuple[str, ...]] = {
    "Queue and run": ("queue", "check", "run", "stop"),
    "Look at results": ("status", "show", "diff", "logs", "report", "ui"),
    "Share and review": ("push", "pull", "pr", "apply", "remove", "archive", "restore"),
    "Scale out": ("worker", "ci", "slurm", "k8s"),
    "Set up": ("demo",),
}

# Command path below ``gitexp`` -> the example lines its help ends with.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "queue": ("gitexp queue --set train.lr='[0.01, 0.1]' --set train.epochs='[10, 30]' --name lr-sweep",),
    "check": ("gitexp check sweep.yaml", "gitexp check --set train.lr='logspace(-4,-1,4)' --json"),
    "run": ("gitexp run lr-sweep -j 2", "gitexp run --retry-failed lr-sweep/t003"),
    "stop": ("gitexp stop lr-sweep/t003", "gitexp stop lr-sweep"),
    "status": ("gitexp status lr-sweep --watch", "gitexp status --json"),
    "show": ("gitexp show lr-sweep --sort-by test.acc", "gitexp show --all --csv > trials.csv"),
    "diff": ("gitexp diff lr-sweep/t003", "gitexp diff lr-sweep/t001 lr-sweep/t003 --md", "gitexp diff lr-sweep/t003 --plots plots/"),
    "logs": ("gitexp logs -f lr-sweep/t003", "gitexp logs lr-sweep/t003 --raw | less -R"),
    "report": ("gitexp report lr-sweep -o report.md", "gitexp report lr-sweep --format html -o report.html"),
    "ui": ("gitexp ui --open", "gitexp ui --rev main -n 20 --port 8081"),
    "push": ("gitexp push origin lr-sweep", "gitexp push origin lr-sweep --run --pr"),
    "pull": ("gitexp pull origin",),
    "pr": ("gitexp pr lr-sweep", "gitexp pr lr-sweep/t003 --replace lr-sweep", "gitexp pr lr-sweep/t003 --base main"),
    "apply": ("gitexp apply lr-sweep/t003",),
    "remove": ("gitexp remove lr-sweep/t003", "gitexp remove lr-sweep --remote origin"),
    "archive": ("gitexp archive lr-sweep --keep-best 3", "gitexp archive lr-sweep --older-than 30d"),
    "restore": ("gitexp restore lr-sweep", "gitexp restore lr-sweep/t003"),
    "worker": ("gitexp worker --remote origin -j 2", "gitexp worker --remote origin --sweep lr-sweep --idle-exit 300"),
    "ci": ("gitexp ci init --secret AWS_ACCESS_KEY_ID --secret AWS_SECRET_ACCESS_KEY",),
    "ci init": ("gitexp ci init", "gitexp ci init --runner cml --cloud aws --cloud-type m --cloud-spot"),
    "ci plan": ("gitexp ci plan --sweep lr-sweep",),
    "ci run": ('gitexp ci run --trial "$TRIAL"',),
    "ci start": ("gitexp ci start lr-sweep", "gitexp ci start lr-sweep --push"),
    "ci comment": ("gitexp ci comment --sweep lr-sweep --file report.md",),
    "k8s": ("gitexp k8s init --image ghcr.io/you/project:1 --workers 8 --parallel 4 --secret git-credentials",),
    "k8s init": (
        "gitexp k8s init --image ghcr.io/you/project:1 --secret git-credentials --secret dvc-s3",
        "gitexp k8s init --image ghcr.io/you/project:1 --workers 4 --gpus-per-worker 1 --memory 16Gi --sweep lr-sweep",
    ),
    "k8s submit": ("gitexp k8s submit", "gitexp k8s submit --file k8s/big-sweep.yaml"),
    "k8s status": ("gitexp k8s status", "gitexp k8s status --remote upstream"),
    "slurm": ("gitexp slurm init --workers 8 --parallel 4 --gpus-per-worker 2 --time 4:00:00", "gitexp slurm submit lr-sweep --remote origin"),
    "slurm init": ("gitexp slurm init --workers 8 --parallel 4 --partition gpu --gpus-per-worker 2 --time 4:00:00",),
    "slurm submit": ("gitexp slurm submit lr-sweep --remote origin --dvc-cache /shared/dvc-cache",),
    "slurm status": ("gitexp slurm status",),
    "demo": ("gitexp demo", "gitexp demo ~/gitexp-demo -j 4"),
}


def examples_epilog(lines: tuple[str, ...]) -> str:
    """The examples as click prints an epilog: ``\\b`` keeps click from rewrapping the lines."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)
