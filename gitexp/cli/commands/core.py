"""queue, run, status, show: the core loop."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gitexp.cli.completion import complete_names, complete_sweeps
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.gpu_options import JOBS_HELP, gpu_options, jobs_and_gpus
from gitexp.cli.group import cli
from gitexp.errors import TrialsFailed
from gitexp.review.tables import csv_chunks, format_value, json_chunks, plain_text_chunks, to_markdown, to_rich
from gitexp.store.records import Ledger
from gitexp.terminal import terminal_text

NO_SWEEPS = "No sweeps yet: create one with gitexp queue --set KEY=VALUES"


SCRIPT = "gitexp.script"  # ctx.meta key: the words after --


class ScriptCommand(click.Command):
    """A command that takes a script's command line after ``--`` (kept whole, never read as options or names)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            args, ctx.meta[SCRIPT] = args[:cut], tuple(args[cut + 1 :])
        return super().parse_args(ctx, args)


def script_given() -> bool:
    return bool(click.get_current_context().meta.get(SCRIPT))


def sweep_options(command):
    """The options that define a sweep, shared by queue, run --sweep and check."""
    options = [
        click.option("-S", "--set", "sets", multiple=True, metavar="[FILE:]KEY=EXPR", help="A params key and its values; repeat (-S as in dvc exp run)."),
        click.option("--data", "data", multiple=True, metavar="PATH=SOURCE", help="A DVC-tracked path and the file or folder (or '[a, b]' list) each trial takes instead; repeat."),
        click.option("--strategy", help="grid (default), random, hyperband or bayes; none: a command's flags as written."),
        click.option("--num-trials", type=int, help="How many trials (random and adaptive strategies)."),
        click.option("--seed", type=int, help="Seed for random draws."),
        click.option("--concurrency", type=int, help="How many trials of an adaptive sweep run at once."),
        click.option("--objective", metavar="METRIC", help="The metric to optimise (adaptive strategies, ranking)."),
        click.option("--goal", type=click.Choice(["maximize", "minimize"]), help="The objective's direction."),
        click.option("--metrics", multiple=True, metavar="FILE", help="With -- COMMAND: a metrics file it writes (json, yaml, csv); repeat."),
        click.option("--outs", multiple=True, metavar="PATH", help="With -- COMMAND: an output it writes that goes into the DVC cache; repeat."),
        click.option("--pruner", metavar="NAME", help="Stop losing trials while they run: median, percentile, successive_halving, hyperband, threshold, patient or none."),
        click.option("--prune-metric", metavar="METRIC", help="The dvclive metric the pruner steers by (default: the objective)."),
        click.option("--prune-min-step", type=int, metavar="STEP", help="No trial is pruned before this dvclive step."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


# queue -m, and run -m for the sweep it queues (planning.queue.checked_message checks the text).
message_option = click.option("-m", "--message", help="The trial commits' message (as dvc exp run -m; the trailers stay).")


def given_script() -> bool:
    return bool(click.get_current_context().meta.get(SCRIPT))


def spec_from_options(environment: Environment, sets, sweep_file, data=(), **flags):
    from gitexp.sweep.build import build_spec

    command = click.get_current_context().meta.get(SCRIPT, ())
    return build_spec(list(sets), data=list(data), sweep_file=sweep_file and (environment.cwd / sweep_file), command=command, **flags)


@cli.command(cls=ScriptCommand)
@sweep_options
@click.option("--sweep", "sweep_file", type=click.Path(dir_okay=False, path_type=Path), help="A sweep file.")
@click.option("--name", help="The sweep's name (default: a generated one).")
@click.option("--rev", default="HEAD", show_default=True, help="The baseline commit.")
@click.option("--include-uncommitted", is_flag=True, help="Snapshot uncommitted changes into the baseline.")
@message_option
@pass_environment
def queue(environment: Environment, sweep_file, name, rev, include_uncommitted, message, **sweep_flags):
    """Create one trial branch per point of the sweep (or of a script's flags after --)."""
    from gitexp.planning.queue import QueueRequest, queue_sweep

    git = environment.git()
    spec = spec_from_options(environment, sweep_flags.pop("sets"), sweep_file, **sweep_flags)
    request = QueueRequest(spec, name, rev, include_uncommitted, environment.project_dir(git), environment.cwd, script=given_script(), message=message)
    queued = queue_sweep(git, request)
    sweep = queued.sweep
    environment.echo(f"Queued sweep {sweep.name}: {len(queued.trials)} trials on {sweep.baseline[:10]}")
    for trial in queued.trials:
        params = " ".join(f"{key}={format_value(value)}" for key, value in trial.params.items())
        environment.echo(f"  {trial.ref.branch}  {params or '(nothing swept: the baseline as it is, a command as written)'}")
    environment.echo(f"Run them with: gitexp run {sweep.name}")


@cli.command(cls=ScriptCommand)
@click.argument("names", nargs=-1, shell_complete=complete_names)
@click.option("-j", "--jobs", type=int, help=JOBS_HELP)
@gpu_options
@click.option("--timeout", type=float, help="Seconds after which a trial is stopped and marked failed.")
@click.option("--stage", help="Reproduce only this dvc.yaml stage (and what it depends on).")
@click.option("--retry-failed", is_flag=True, help="Run failed trials again (the new result goes on top).")
@click.option("--retry-cancelled", is_flag=True, help="Run cancelled trials (gitexp stop, a sweep's stop) again.")
@click.option("-C", "--copy-paths", "copy_paths", multiple=True, metavar="PATH", help="Copy this ignored or untracked file or folder into every trial (dvc exp run --copy-paths); repeat.")
@click.option("--sweep", "sweep_file", type=click.Path(dir_okay=False, path_type=Path), help="Queue this sweep file, then run it.")
@click.option("--name", help="With --sweep: the new sweep's name.")
@click.option("--more", type=int, help="Extend the named sweep by this many trials, then run.")
@message_option
@sweep_options
@pass_environment
def run(environment: Environment, names, jobs, gpus, gpus_per_trial, timeout, stage, retry_failed, retry_cancelled, copy_paths, sweep_file, name, more, message, **sweep_flags):
    """Run queued trials (of the named sweeps or trials; all by default)."""
    from gitexp.cli.progress import LiveProgress, PlainProgress
    from gitexp.errors import UsageError
    from gitexp.execution.driver import plan_extension, refuse_objective_problems, selection
    from gitexp.execution.local import RunOptions, check_stage_of, copy_paths_option
    from gitexp.execution.shared import plan_run
    from gitexp.planning.queue import QueueRequest, plan_queue

    git = environment.git()
    jobs, gpu_plan = jobs_and_gpus(environment, jobs, gpus, gpus_per_trial)
    options = RunOptions(
        jobs=jobs,
        gpus=gpu_plan,
        timeout=timeout,
        stage=stage,
        retry_failed=retry_failed,
        retry_cancelled=retry_cancelled,
        copy_paths=copy_paths_option(git, environment.cwd, copy_paths),
    )
    options.validate()
    new_sweep = sweep_file or sweep_flags["sets"] or sweep_flags["data"] or script_given()
    if message is not None and not new_sweep:
        raise UsageError("-m is the commit message of a new sweep's trials: add --sweep FILE (or --set), or leave -m out")
    if new_sweep:
        spec = spec_from_options(environment, sweep_flags.pop("sets"), sweep_file, **sweep_flags)
        request = QueueRequest(spec, name, project=environment.project_dir(git), cwd=environment.cwd, script=given_script(), message=message)
        planned = plan_queue(git, request)
        refuse_objective_problems(git, planned.sweep)  # validate first, write after
        check_stage_of(git, [planned.sweep], [], stage)
        queued = planned.write()
        environment.echo(f"Queued sweep {queued.sweep.name}: {len(queued.trials)} trials")
        names = (queued.sweep.name,)
    if more is not None and (len(names) != 1 or names[0] not in Ledger(git).sweep_names()):
        raise UsageError("--more extends one sweep: name it, e.g. gitexp run my-sweep --more 10")
    if more is not None:  # refused here on local facts, before the network; written where the sweep's trials are claimed
        plan_extension(git, Ledger(git).sweep(names[0]), more)
    check_stage_of(git, *selection(git, names), stage)
    plan = plan_run(git, list(names), options, more)
    if plan.total == 0:
        environment.echo("Nothing to run: no queued trials" + (" in " + ", ".join(names) if names else ""))
        return
    display = (
        LiveProgress(environment.console, plan.expected_runs)
        if environment.interactive
        else PlainProgress(environment, plan.expected_runs)
    )
    with display:
        summary = plan.run(display)
    environment.echo(f"{summary.counts()}, {len(summary.skipped)} skipped")
    for shared in plan.shared:
        environment.echo(f"{shared.note}: gitexp pull brings the results of other runners")
    for driver in plan.drivers:
        if getattr(driver, "stop_reason", None):
            environment.echo(f"Sweep {driver.sweep.name} stopped: {driver.stop_reason}")
    if summary.failed:
        failed = ", ".join(trial.ref.key for trial in summary.failed[:5])
        raise TrialsFailed(f"{len(summary.failed)} trial(s) failed ({failed}): see gitexp logs TRIAL")


def watch_options(command):
    """--watch and --interval, shared by status and show."""
    interval = click.option(
        "--interval", type=float, metavar="SECONDS", help="With --watch: seconds between views (2 in a terminal; needed elsewhere)."
    )
    watch = click.option("--watch", is_flag=True, help="Show it again every interval until nothing is queued or running.")
    return watch(interval(command))


def watched(environment: Environment, watch: bool, interval, formats: dict[str, bool]) -> float | None:
    """The --watch interval, or None without --watch; refuses --interval alone and --watch with an output format."""
    from gitexp.cli.watch import watch_interval
    from gitexp.errors import UsageError

    if not watch:
        if interval is not None:
            raise UsageError("--interval goes with --watch: add --watch, or leave --interval out")
        return None
    chosen = [name for name, on in formats.items() if on]
    if chosen:
        raise UsageError(f"--watch redraws the view for people to read: leave out {chosen[0]}, or drop --watch")
    return watch_interval(environment, interval)


@cli.command()
@click.argument("sweeps", nargs=-1, shell_complete=complete_sweeps)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the schema is in the README).")
@watch_options
@pass_environment
def status(environment: Environment, sweeps, as_json, watch, interval):
    """Sweeps with their trials counted by state, and the running trials with where they run."""
    from gitexp.cli.watch import watch as watch_view
    from gitexp.review.status import statuses_to_json, sweep_statuses

    every = watched(environment, watch, interval, {"--json": as_json})
    git = environment.git()
    names = list(sweeps) or None
    if as_json:
        environment.echo_json(json.dumps(statuses_to_json(sweep_statuses(git, names)), indent=2))
        return
    if every is None:
        environment.echo(status_text(sweep_statuses(git, names)))
        return

    def view():
        from rich.text import Text

        statuses = sweep_statuses(git, names)
        return Text(terminal_text(status_text(statuses))), any(entry.active for entry in statuses)

    watch_view(environment, view, every)


def status_text(statuses: list) -> str:
    """One line a sweep (adaptive ones counted against their budget), then one a running trial of it."""
    if not statuses:
        return NO_SWEEPS
    lines = []
    for entry in statuses:
        counts = ", ".join(f"{count} {state}" for state, count in entry.counts.items() if count)
        of = f" of {entry.budget}" if entry.adaptive and entry.budget is not None else ""
        lines.append(f"{entry.sweep.name}  {entry.strategy}  {entry.total}{of} trials: {counts or 'none'}")
        lines += [f"  {running_line(trial)}" for trial in entry.running]
    return "\n".join(lines)


def show_best(environment: Environment, sweeps: list[str], as_json: bool) -> None:
    """``show --best``: per sweep, its best trial and how the best value went over its trials."""
    from gitexp.review.report import build_sweep_report

    git = environment.git()
    found = []
    for name in sweeps or Ledger(git).sweep_names():
        report = build_sweep_report(git, name)
        progress, row = report.progress, report.best
        found.append({
            "sweep": name,
            "best": None if row is None else {"trial": f"{row.sweep}/{row.name}", "branch": row.branch, "metrics": row.metrics},
            "best_so_far": [{"trial": trial, "value": value} for trial, value in progress.best_so_far] if progress else [],
            "steps_run": progress.steps_run if progress else 0,
            "steps_saved": progress.steps_saved if progress else 0,
            "seconds_saved": round(progress.seconds_saved, 3) if progress else 0.0,
        })
        if not as_json:
            environment.echo(best_lines(report))
    if as_json:
        environment.echo_json(json.dumps(found, indent=2))
    elif not found:
        environment.echo(NO_SWEEPS)


def best_lines(report) -> str:
    progress, row = report.progress, report.best
    if row is None or progress is None:
        return f"{report.sweep.name}: no finished trial to rank yet"
    value = format_value(row.metrics.get(progress.metric))
    curve = " ".join(format_value(value) for _, value in progress.best_so_far)
    return f"{report.sweep.name}: best {row.sweep}/{row.name} {progress.metric}={value}\n  best so far: {curve}\n  {progress.summary()}"


def running_line(trial) -> str:
    where = "here" if trial.where == "local" else f"on {trial.remote or 'a remote'}"
    worker = f" by {trial.worker}" if trial.worker else ""
    beat = f", heartbeat {trial.heartbeat_age:.0f}s ago" if trial.heartbeat_age is not None else ""
    return f"{trial.key}  running {where}{worker}{scheduler_task(trial.job)}{beat}"


def scheduler_task(job: dict | None) -> str:
    """`` (Slurm task 12_3 on node n1)`` for a trial a scheduler's task holds; "" otherwise."""
    if not job:
        return ""
    task = job.get("slurm_array") or job.get("slurm_job")
    node = f" on {job['node']}" if job.get("node") else ""
    return f" (Slurm task {task}{node})" if task else f" ({node.strip()})"


@cli.command()
@click.argument("sweeps", nargs=-1, shell_complete=complete_sweeps)
@click.option("--sort-by", metavar="METRIC", help="Rank trials by this metric.")
@click.option("--sort-order", type=click.Choice(["asc", "desc"]), help="Default: the objective's goal, else desc.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--md", "as_md", is_flag=True, help="Print a Markdown table.")
@click.option("-a", "--all", "all_params", is_flag=True, help="Every param of every params file, not only those trials vary.")
@click.option("--archived", is_flag=True, help="Also the trials gitexp archive moved out of the branch list.")
@click.option("--limit", type=int, metavar="N", help="At most N trials, the best first with --sort-by (0: all; default in a terminal: a screenful).")
@click.option("--best", is_flag=True, help="Each sweep's best trial, the best value so far after each trial, and what pruning saved.")
@watch_options
@pass_environment
def show(environment: Environment, sweeps, sort_by, sort_order, as_json, as_csv, as_md, all_params, archived, limit, best, watch, interval):
    """Trials with the params that vary (or --all) and their metrics, baseline first.

    --json also gives each commit as dvc exp show --json does: params and
    metrics by file, the deps and outs hashes of dvc.lock, and the commit time.
    """
    from gitexp.cli.watch import watch as watch_view
    from gitexp.errors import UsageError
    from gitexp.review.results import collect_results, limit_rows, sort_by_pareto, sort_rows
    from gitexp.review.status import sweep_statuses

    if sum((as_json, as_csv, as_md)) > 1:
        raise UsageError("choose one of --json, --csv and --md")
    if limit is not None and limit < 0:
        raise UsageError(f"--limit {limit}: give a number of trials, or 0 for all of them")
    if best:
        show_best(environment, list(sweeps), as_json)
        return
    every = watched(environment, watch, interval, {"--json": as_json, "--csv": as_csv, "--md": as_md})
    if limit is None and not (as_json or as_csv or as_md):
        limit = environment.screen_rows()
    limit = limit or None
    git = environment.git()

    def results():
        rank = (sort_by, sort_order) if sort_by else None
        table = collect_results(git, list(sweeps) or None, all_params=all_params, details=as_json, archived=archived, limit=limit, rank=rank)
        if sort_by:
            sort_rows(table, sort_by, sort_order)
        else:
            sort_by_pareto(table)  # multi-objective sweeps only
        if limit is not None:
            limit_rows(table, limit)
        return table

    table = results()  # refuses an unknown sweep or metric before anything is watched
    if every is not None:

        def view():  # counts first: a table read after them is at least as new, so the last one is final
            from rich.text import Text

            active = any(entry.active for entry in sweep_statuses(git, list(sweeps) or None))
            current = results()
            return (to_rich(current) if current.rows else Text(NO_SWEEPS)), active

        watch_view(environment, view, every)
        return
    if as_json:
        environment.stream_json(json_chunks(table))
    elif as_csv:
        environment.stream(csv_chunks(table))
    elif as_md:
        environment.write(to_markdown(table))
    elif not table.rows:
        environment.echo(NO_SWEEPS)
    else:
        console = environment.console
        plain = plain_text_chunks(table, console)
        if plain is None:
            console.print(to_rich(table))
        else:
            environment.stream(plain)
    if table.hidden and not (as_json or as_csv or as_md):
        environment.echo(f"... and {table.hidden} more trials: gitexp show --limit 0 lists them all")
    elif table.hidden:
        environment.echo_err(f"{table.hidden} more trials left out by --limit {limit}")
