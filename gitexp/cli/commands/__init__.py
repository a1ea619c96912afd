"""Command modules: each registers its commands on ``gitexp.cli.group.cli`` when it is imported.

The group imports a command's module only when that command runs (click's lazy
loading), so ``gitexp status`` does not pay for the imports of ``ui`` or ``ci``.
``COMMANDS`` says where each command lives and its one-line help, so that
``gitexp --help`` lists every command without importing any of them; a test
keeps the lines equal to the commands' own short help.
"""

from __future__ import annotations

# Command name -> ("module:attribute" of its click command, the short help ``gitexp --help`` shows).
COMMANDS: dict[str, tuple[str, str]] = {
    "apply": ("gitexp.cli.commands.review:apply", "Bring TRIAL's params, results and DVC outputs into the working tree."),
    "archive": ("gitexp.cli.commands.archive:archive", "Move the finished trials of SWEEP... out of the branch list, to refs/gitexp/archive/."),
    "check": ("gitexp.cli.commands.check:check", "Validate a sweep file and/or --set flags; print the definition and its trials."),
    "ci": ("gitexp.cli.commands.ci:ci", "Run trials in GitHub Actions: write the workflow, and the steps it calls."),
    "demo": ("gitexp.cli.commands.demo:demo", "Build the example DVC project in DIRECTORY (default: a temporary folder), run a sweep and write its report."),
    "diff": ("gitexp.cli.commands.diff:diff", "What differs from A to B (trials, sweeps' baselines, commits); from A's baseline to A when B is left out."),
    "k8s": ("gitexp.cli.commands.k8s:k8s", "Run workers on Kubernetes: write an Indexed Job manifest, and submit it with kubectl."),
    "logs": ("gitexp.cli.commands.control:logs", "Print a trial's log (or, for a run elsewhere, what its result commit kept)."),
    "pr": ("gitexp.cli.commands.review:pr", "Push TRIAL's branch and open a pull request whose body is the trial's report; or SWEEP's draft one."),
    "pull": ("gitexp.cli.commands.review:pull", "Fetch sweeps and their trial branches (every sweep by default) from REMOTE (default: origin)."),
    "push": ("gitexp.cli.commands.review:push", "Push sweeps and their trial branches (every sweep by default) to REMOTE (default: origin)."),
    "queue": ("gitexp.cli.commands.core:queue", "Create one trial branch per point of the sweep (or of a script's flags after --)."),
    "remove": ("gitexp.cli.commands.review:remove", "Delete trials or whole sweeps: branches, sweep records and claims."),
    "report": (
        "gitexp.cli.commands.review:report",
        "The review report of SWEEP (default: the newest sweep): definition, ranking, best trial, failures, plots"
        " (gitexp's own, and those the project's dvc.yaml declares, drawn for the best trial and the baseline).",
    ),
    "restore": ("gitexp.cli.commands.archive:restore", "Bring archived trials (a whole SWEEP, or SWEEP/TRIAL) back as branches."),
    "run": ("gitexp.cli.commands.core:run", "Run queued trials (of the named sweeps or trials; all by default)."),
    "show": ("gitexp.cli.commands.core:show", "Trials with the params that vary (or --all) and their metrics, baseline first."),
    "slurm": ("gitexp.cli.commands.slurm:slurm", "Run trials on a Slurm cluster: write the array job's script, submit it, watch its tasks."),
    "status": ("gitexp.cli.commands.core:status", "Sweeps with their trials counted by state, and the running trials with where they run."),
    "stop": ("gitexp.cli.commands.control:stop", "Stop running trials; a sweep's name also keeps it from starting new ones."),
    "ui": ("gitexp.cli.commands.ui:ui", "Serve a live page of the experiments (table, trials, run form) until Ctrl-C."),
    "worker": ("gitexp.cli.commands.worker:worker", "Claim queued trials on a Git remote, run them here and push their results, until none are left."),
}
