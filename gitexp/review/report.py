"""The review report of a sweep (and of one trial, for its pull request).

``build_sweep_report`` gathers what the report says from Git alone: the sweep's
definition and counts, the finished trials ranked by the objective (or, when
the sweep declares none, by a guess: its first score-like metric, lower first
for losses and errors), deltas against the baseline, the
failed trials with the end of their logs (kept in their result commits), and
the data of the plots. Rendering goes through the jinja2 templates in
``gitexp/templates/report/``:

- Markdown: every value a template prints is escaped for Markdown unless the
  code built it as Markdown (``Markup``: tables, code blocks, image links), so
  user text (param values, metric names, log lines) never becomes markup, a
  link (bare URLs included), a mention or a broken table (``review.tables.markdown_text``).
- HTML: jinja2's autoescaping, plots inlined as base64 PNGs: the Report view of the ui's page as one
  self-contained file (``gitexp.ui.twin``), beside the table and plots it embeds the data of.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from gitexp.errors import NotFoundError, UsageError
from gitexp.numbers import finite
from gitexp.project.metrics import parse_step_tsv
from gitexp.project.model import DVCLIVE_STEPS
from gitexp.review import mermaid
from gitexp.review.progress import SweepProgress, sweep_progress
from gitexp.review.results import Pareto, Row, baseline_row, collect_results, sort_by_pareto, sort_rows
from gitexp.review.tables import format_value, markdown_table, markdown_text
from gitexp.store.git import Git
from gitexp.store.records import FAILED, FINAL_STATES, PRUNED, STATES, Ledger, Sweep, failure_details
from gitexp.sweep.expr import format_expr
from gitexp.sweep.spec import SweepSpec
from gitexp.terminal import terminal_text

DEFAULT_TOP = 20
MAX_CURVE_TRIALS = 8  # lines in one step-curve plot, the best trials first
LOG_LINES_SHOWN = 15
DVCLIVE_PLOTS_DIR = DVCLIVE_STEPS + "/"
FORMATS = ("md", "html")
COUNTERS = {"step", "epoch", "epochs", "timestamp", "iteration"}  # metrics that are not scores
LOWER_IS_BETTER = re.compile(r"loss|err|mse|mae|perplexity|latency")


@dataclass(frozen=True)
class Table:
    """Headers and rows of text, for any output format."""

    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Ranking:
    metric: str
    goal: str  # "maximize" or "minimize"
    declared: bool  # the sweep's objective, rather than a metric the report picked

    @property
    def better(self) -> str:
        return "higher" if self.goal == "maximize" else "lower"


@dataclass(frozen=True)
class FailedTrial:
    row: Row
    reason: str
    log_tail: list[str]

    @classmethod
    def from_message(cls, row: Row, message: str) -> "FailedTrial":
        """The failure a result commit's message records, with the last lines of its log."""
        reason, lines = failure_details(message)
        return cls(row, reason, lines[-LOG_LINES_SHOWN:])


@dataclass(frozen=True)
class Plot:
    """One plot of the report, in every form a view can show: a PNG, a Mermaid chart (the PR comment),
    a table where neither can be drawn, a Vega-Lite specification (HTML), and what its data lacks."""

    file_name: str
    title: str
    png: bytes | None
    chart: mermaid.Chart | None = None
    table: Table | None = None
    vega: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()


@dataclass
class SweepReport:
    """Everything a sweep's report says, read from Git."""

    sweep: Sweep
    spec: SweepSpec
    baseline: Row
    trials: list[Row]
    varied: list[str]
    metrics: list[str]  # the ranking metric first
    ranking: Ranking | None
    ranked: list[Row]  # trials with a value of the ranking metric, best first (a pruned trial's is partial: not ranked)
    failed: list[FailedTrial]
    top: int = DEFAULT_TOP  # rows in the ranked table; 0 for all
    pareto: Pareto | None = None  # several objectives or constraints: ranked by Pareto fronts

    @property
    def counts(self) -> dict[str, int]:
        counts = {state: sum(row.status == state for row in self.trials) for state in STATES}
        return {state: count for state, count in counts.items() if count}

    @property
    def finished(self) -> int:
        return sum(row.status in FINAL_STATES for row in self.trials)

    @property
    def best(self) -> Row | None:
        return self.ranked[0] if self.ranked else None

    @property
    def progress(self) -> SweepProgress | None:
        """The best value so far over the trials, and what pruning saved; None without a ranking."""
        return sweep_progress(self.trials, self.ranking.metric, self.ranking.goal) if self.ranking else None

    @property
    def shown(self) -> list[Row]:
        return self.ranked[: self.top] if self.top else self.ranked

    def rank_of(self, row: Row) -> int | None:
        keys = [(ranked.sweep, ranked.name) for ranked in self.ranked]
        return keys.index((row.sweep, row.name)) + 1 if (row.sweep, row.name) in keys else None

    def delta(self, row: Row, metric: str) -> float | None:
        value, base = finite(row.metrics.get(metric)), finite(self.baseline.metrics.get(metric))
        return None if value is None or base is None else value - base


# -- gathering -------------------------------------------------------------------------


def build_sweep_report(git: Git, sweep_name: str | None = None, baseline_rev: str | None = None, top: int = DEFAULT_TOP) -> SweepReport:
    """The report of ``sweep_name`` (default: the sweep created last), against ``baseline_rev`` if given."""
    if top < 0:
        raise UsageError(f"--top {top}: give the number of trials to list, or 0 for all of them")
    ledger = Ledger(git)
    sweep = ledger.sweep(sweep_name) if sweep_name else latest_sweep(ledger)
    table = collect_results(git, [sweep.name], archived=True)
    baseline, trials = table.rows[0], table.rows[1:]
    if baseline_rev is not None:
        commit = git.rev_parse(baseline_rev)
        if commit is None:
            raise UsageError(f"--baseline {baseline_rev!r} names no commit: give a branch, tag or commit id")
        baseline = baseline_row(git, dataclasses.replace(sweep, baseline=commit), table.param_columns)
    ranking = choose_ranking(trials, table.metric_columns, table.objectives.get(sweep.name))
    ranked = []
    if ranking is not None and ranking.metric in table.metric_columns:
        sort_rows(table, ranking.metric, "asc" if ranking.goal == "minimize" else "desc")
        ranked = [row for row in table.rows[1:] if row.status != PRUNED and finite(row.metrics.get(ranking.metric)) is not None]
    pareto = table.pareto.get(sweep.name)
    if pareto is not None:
        sort_by_pareto(table)
        ranked = [row for row in table.rows[1:] if row.name in pareto.fronts and row.status != PRUNED]
    metrics = list(table.metric_columns)
    if ranking is not None and ranking.metric in metrics:
        metrics.remove(ranking.metric)
        metrics.insert(0, ranking.metric)
    messages = {trial.name: trial.message for trial in ledger.trials([sweep.name], archived=True)}
    failed = [FailedTrial.from_message(row, messages.get(row.name, "")) for row in trials if row.status == FAILED]
    return SweepReport(
        sweep=sweep,
        spec=SweepSpec.from_json(sweep.spec),
        baseline=baseline,
        trials=trials,
        varied=table.param_columns,
        metrics=metrics,
        ranking=ranking,
        ranked=ranked,
        failed=failed,
        top=top,
        pareto=pareto,
    )


def latest_sweep(ledger: Ledger) -> Sweep:
    sweeps = ledger.sweeps()
    if not sweeps:
        raise NotFoundError("no sweeps yet: create one with gitexp queue --set KEY=VALUES")
    return max(sweeps, key=lambda sweep: sweep.created)


def choose_ranking(trials: list[Row], metric_columns: list[str], objective: tuple[str, str] | None) -> Ranking | None:
    """The sweep's objective; without one, the first metric trials recorded as a number (not a step
    counter), lower first when its name says it is a loss or an error, else higher first."""
    if objective is not None:
        return Ranking(objective[0], objective[1], declared=True)
    for metric in metric_columns:
        leaf = re.split(r"[./:]", metric)[-1].lower()
        if leaf in COUNTERS or not any(finite(row.metrics.get(metric)) is not None for row in trials):
            continue
        return Ranking(metric, "minimize" if LOWER_IS_BETTER.search(leaf) else "maximize", declared=False)
    return None


# -- plots -----------------------------------------------------------------------------


def report_plots(git: Git, report: SweepReport) -> list[Plot]:
    """The objective against each varied param, and dvclive's step curves of the best trials."""
    from gitexp.review import plots  # matplotlib loads only when a report draws

    found: list[Plot] = []
    if report.ranking is not None and report.ranked:
        metric = report.ranking.metric
        baseline = finite(report.baseline.metrics.get(metric))
        for param in report.varied:
            points = [(row.params[param], row.metrics[metric]) for row in report.ranked if row.params.get(param) is not None]
            if points:
                png = plots.objective_against_param(points, param, metric, baseline)
                chart = objective_chart(points, param, metric, baseline, report.ranking.goal)
                found.append(Plot(f"{_slug(metric)}-vs-{_slug(param)}.png", f"{metric} against {param}", png, chart))
    if report.pareto is not None and len(report.pareto.objectives) == 2 and report.ranked:
        found.append(pareto_plot(report, plots))
    progress = report.progress
    if progress is not None and len(progress.best_so_far) > 1:
        png = plots.best_so_far(progress.best_so_far, progress.metric)
        found.append(Plot(f"best-so-far-{_slug(progress.metric)}.png", f"best {progress.metric} so far", png))
    pruned = [row for row in report.trials if row.status == PRUNED][:MAX_CURVE_TRIALS]
    dashed = {f"{row.sweep}/{row.name}" for row in pruned}
    for name, curves in dvclive_curves(git, curve_rows(report) + pruned).items():
        chart = mermaid.step_chart(name, curves)
        found.append(Plot(f"steps-{_slug(name)}.png", f"{name} by step", plots.step_curves(curves, name, pruned=dashed), chart))
    return _unique_file_names(found)


def curve_rows(report: SweepReport) -> list[Row]:
    """The trials whose step curves are drawn: the best ones (the baseline's own curves come too)."""
    return [report.baseline, *report.ranked[: MAX_CURVE_TRIALS - 1]] if report.baseline.commit else report.ranked[:MAX_CURVE_TRIALS]


def objective_chart(points: Sequence[tuple[Any, float]], param: str, metric: str, baseline: float | None, goal: str) -> mermaid.Chart | None:
    """Bars of the best ``metric`` per value of ``param`` (in the values' order); None for too many values."""
    numeric = all(finite(value) is not None for value, _ in points)
    ordered = sorted(points, key=lambda point: finite(point[0]) if numeric else str(point[0]))
    if len({str(value) for value, _ in ordered}) > mermaid.MAX_CATEGORIES:
        return None
    return mermaid.objective_chart(metric, param, [(format_value(value), score) for value, score in ordered], baseline, goal)


def chosen_trials(report: SweepReport, names: str | None) -> list[Row] | None:
    """The trials ``--trials A,B`` names (``t001`` or ``sweep/t001``), in its order; None when not given."""
    if names is None:
        return None
    by_name = {name: row for row in report.trials for name in (row.name, f"{row.sweep}/{row.name}", row.branch)}
    chosen = []
    for name in (part.strip() for part in names.split(",")):
        if name not in by_name:
            raise UsageError(f"--trials: sweep {report.sweep.name} has no trial {name!r}: give trial names such as t001, separated by commas")
        chosen.append(by_name[name])
    return chosen


def project_plots(git: Git, report: SweepReport, trials: Sequence[Row] | None = None) -> list[Plot]:
    """The plots the project's dvc.yaml declares, for ``trials`` (default: the best one) and the baseline."""
    from gitexp.project.plots import declared_plots
    from gitexp.review import dvc_plots

    chosen = list(trials) if trials is not None else report.ranked[:1]
    revs = {"baseline": report.baseline.commit} if report.baseline.commit else {}
    revs.update({f"{row.sweep}/{row.name}": row.commit for row in chosen if row.commit})
    found = []
    for declared in declared_plots(git, report.sweep.project, revs):
        notes = tuple(dvc_plots.missing_notes(declared))
        stem = dvc_plots.file_stem(declared)
        if declared.kind == "image":
            for label, image in declared.images.items():
                found.append(Plot(f"{stem}-{_slug(label)}.png", f"{declared.title} ({label})", image, notes=notes))
            if not declared.images:
                found.append(Plot(f"{stem}.png", declared.title, None, notes=notes))
            continue
        table = dvc_plots.confusion_table(declared)
        found.append(
            Plot(
                f"{stem}.png",
                declared.title,
                dvc_plots.png_of(declared),
                chart=dvc_plots.chart_of(declared),
                table=Table(*table) if table else None,
                vega=dvc_plots.vega_lite(declared),
                notes=notes,
            )
        )
    return _unique_file_names(found)


def pareto_plot(report: SweepReport, plots) -> Plot:
    """The two objectives of every ranked trial, the front drawn as a line."""
    first, second = (objective.metric for objective in report.pareto.objectives)
    points = [(row.metrics[first], row.metrics[second], report.pareto.fronts[row.name] == 1) for row in report.ranked]
    png = plots.pareto_front(points, report.pareto.objectives)
    return Plot(f"pareto-{_slug(first)}-{_slug(second)}.png", f"Pareto front of {first} and {second}", png)


def dvclive_curves(git: Git, rows: Sequence[Row]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """``metric -> trial -> [(step, value)]`` from the ``dvclive/plots/metrics/**.tsv`` files of result commits."""
    specs: list[tuple[str, Row]] = []
    for row in rows:
        specs += [(path, row) for path in git.list_tree(row.commit, DVCLIVE_PLOTS_DIR) if path.endswith(".tsv")]
    blobs = git.read_blobs([f"{row.commit}:{path}" for path, row in specs])
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for (path, row), blob in zip(specs, blobs):
        name = path.removeprefix(DVCLIVE_PLOTS_DIR).removesuffix(".tsv")
        points = parse_step_tsv(blob or b"", name.rsplit("/", 1)[-1])
        if points:
            curves.setdefault(name, {})["baseline" if row.is_baseline else f"{row.sweep}/{row.name}"] = points
    return curves


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "plot"


def _unique_file_names(found: list[Plot]) -> list[Plot]:
    seen: set[str] = set()
    unique = []
    for plot in found:
        name, index = plot.file_name, 2
        while name in seen:
            name = plot.file_name.replace(".png", f"-{index}.png")
            index += 1
        seen.add(name)
        unique.append(dataclasses.replace(plot, file_name=name))
    return unique


# -- tables ----------------------------------------------------------------------------


def definition_table(git: Git, report: SweepReport) -> Table:
    spec, sweep = report.spec, report.sweep
    planned = spec.num_planned_trials()
    rows = [["strategy", spec.strategy]]
    rows += [[str(axis.target), format_expr(axis.dimension)] for axis in spec.space.axes]
    rows += [[f"{target} (every trial)", format_value(value)] for target, value in spec.constants]
    rows.append(["trials planned", str(planned) if planned is not None else "as the strategy decides"])
    rows.append(["concurrency", str(spec.concurrency)])
    objectives = ", ".join(f"{objective.goal} {objective.metric}" for objective in spec.objectives)
    rows.append(["objectives (Pareto)" if len(spec.objectives) > 1 else "objective", objectives or "none declared"])
    rows += [["constraint", str(constraint)] for constraint in spec.constraints]
    for rule in spec.early_stopping:
        rows.append(["early stopping", f"once {rule.metric} {'>=' if rule.goal == 'maximize' else '<='} {format_value(rule.value)}"])
    if spec.seed is not None:
        rows.append(["seed", str(spec.seed)])
    rows.append(["baseline", commit_label(git, sweep.baseline)])
    if report.baseline.commit != sweep.baseline:
        rows.append(["compared against", commit_label(git, report.baseline.commit)])
    rows.append(["created", sweep.created])
    return Table(["setting", "value"], rows)


def commit_label(git: Git, commit: str) -> str:
    return f"{commit[:10]} {git.commit_subject(commit)}"


def ranked_table(report: SweepReport, highlight: Row | None = None) -> Table:
    """The shown trials, best first: varied params, the ranking metric with its delta, the other metrics."""
    ranking = report.ranking
    assert ranking is not None
    others = report.metrics[1:]
    headers = ["#", "trial", *report.varied, ranking.metric, "Δ vs baseline", *others, "duration"]
    headers += ["Pareto front"] if report.pareto else []
    baseline = ["", "baseline", *_values(report.baseline.params, report.varied)]
    baseline += [format_value(report.baseline.metrics.get(ranking.metric)), "", *_values(report.baseline.metrics, others), ""]
    baseline += [""] if report.pareto else []
    rows = [baseline]
    for rank, row in enumerate(report.shown, start=1):
        label = row.branch or row.name
        if highlight is not None and row.name == highlight.name:
            label += " (this trial)"
        rows.append(
            [
                str(rank),
                label,
                *_values(row.params, report.varied),
                format_value(row.metrics.get(ranking.metric)),
                format_delta(report.delta(row, ranking.metric)),
                *_values(row.metrics, others),
                "" if row.duration is None else f"{row.duration:.1f}s",
                *([str(report.pareto.fronts[row.name])] if report.pareto else []),
            ]
        )
    return Table(headers, rows)


def comparison_table(report: SweepReport, row: Row) -> Table:
    """One trial against the baseline: each varied param, then each metric with its delta."""
    rows = [[param, format_value(report.baseline.params.get(param)), format_value(row.params.get(param)), ""] for param in report.varied]
    rows += [
        [metric, format_value(report.baseline.metrics.get(metric)), format_value(row.metrics.get(metric)), format_delta(report.delta(row, metric))]
        for metric in report.metrics
    ]
    return Table(["", "baseline", row.name, "Δ"], rows)


def counts_line(report: SweepReport) -> str:
    counts = ", ".join(f"{count} {state}" for state, count in report.counts.items())
    return f"{len(report.trials)} trials: {counts or 'none yet'}"


def format_delta(delta: float | None) -> str:
    return "" if delta is None else f"{delta:+.4g}"


def _values(values: dict[str, Any], keys: Iterable[str]) -> list[str]:
    return [format_value(values.get(key)) for key in keys]


# -- rendering -------------------------------------------------------------------------


def markdown_inline(value: Any) -> Markup:
    """``markdown_text`` outside a table, where a pipe needs escaping too."""
    return Markup(markdown_text(value).replace("|", "\\|"))


def markdown_table_of(table: Table) -> Markup:
    escape = markdown_text
    text = markdown_table([escape(h) for h in table.headers], [[escape(c) for c in row] for row in table.rows])
    return Markup(text.rstrip("\n"))


def code_block(lines: list[str]) -> Markup:
    """A fenced code block whose fence no line can close, controls in their visible form."""
    lines = [terminal_text(line) for line in lines]
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return Markup("\n".join([fence, *lines, fence]))


def image_link(title: str, path: str) -> Markup:
    return Markup(f"![{markdown_text(title)}]({path})")


def finalize_markdown(value: Any) -> Any:
    return value if isinstance(value, Markup) else markdown_inline(value)


def _finalize_html(value: Any) -> Any:
    """A value as text with its controls visible, which autoescaping then makes HTML; the templates' own
    macros (``Markup``, already escaped) as they are."""
    if isinstance(value, Markup):
        return value
    return terminal_text(value if isinstance(value, str) else format_value(value))


def template_environment(markdown: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("gitexp", "templates/report"),
        autoescape=not markdown,
        finalize=finalize_markdown if markdown else _finalize_html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(table=markdown_table_of, code=code_block, delta=format_delta)
    return environment


def _context(git: Git, report: SweepReport) -> dict[str, Any]:
    return {
        "report": report,
        "counts": counts_line(report),
        "definition": definition_table(git, report),
        "ranked": ranked_table(report) if report.ranked else None,
        "best": comparison_table(report, report.best) if report.best else None,
        "progress": report.progress.summary() if report.progress and report.finished else None,
    }


def render_markdown(
    git: Git, report: SweepReport, plot_links: Sequence[tuple[str, str]] = (), declared: Sequence[tuple[Plot, str | None]] = ()
) -> str:
    """The report as Markdown; ``plot_links`` are ``(title, relative path)`` of PNGs written beside it, ``declared``
    the project's own plots with the relative path of their PNG (None: a table or the notes stand in)."""
    images = [image_link(title, path) for title, path in plot_links]
    project = [
        {"plot": plot, "image": image_link(plot.title, path) if path else None, "table": plot.table if not path else None}
        for plot, path in declared
    ]
    return template_environment(markdown=True).get_template("sweep.md.j2").render(**_context(git, report), images=images, project=project)


def render_html(git: Git, report: SweepReport, found: Sequence[Plot], declared: Sequence[Plot] = ()) -> str:
    """The report as HTML, plots inlined as PNGs; the project's plots also as Vega-Lite specifications, which
    the page around it (gitexp/ui/twin.py) draws interactively, as ``dvc plots show`` does."""
    images = [(plot.title, data_uri(plot.png)) for plot in found if plot.png]
    project = [
        {"plot": plot, "source": data_uri(plot.png) if plot.png else None, "spec": script_json(plot.vega) if plot.vega else None}
        for plot in declared
    ]
    return template_environment(markdown=False).get_template("sweep.html.j2").render(**_context(git, report), images=images, project=project)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def script_json(spec: Any) -> Markup:
    """``spec`` (a Vega-Lite specification, any JSON) as the text of a ``<script type="application/json">`` that
    no ``</script>`` or comment in its data can end early, and with no raw control or bidi character."""
    text = json.dumps(spec, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def render_trial_markdown(git: Git, report: SweepReport, row: Row) -> str:
    """The pull-request body of one trial: it against the baseline, its rank, the sweep's table."""
    failure = next((failed for failed in report.failed if failed.row.name == row.name), None)
    return template_environment(markdown=True).get_template("trial.md.j2").render(
        report=report,
        trial=row,
        rank=report.rank_of(row),
        failure=failure,
        comparison=comparison_table(report, row),
        ranked=ranked_table(report, highlight=row) if report.ranked else None,
        counts=counts_line(report),
    )


def check_format(output_format: str) -> None:
    if output_format not in FORMATS:
        raise UsageError(f"--format {output_format!r}: use md or html")


def write_markdown(git: Git, report: SweepReport, output: Path, trials: Sequence[Row] | None = None) -> list[Path]:
    """Write the Markdown report to ``output``, its PNGs in ``<stem>-plots/`` beside it. Answers the files written.
    (The HTML report is the ui's page as one file: gitexp/ui/twin.py.)"""
    prepare_output(output)
    found, declared = report_plots(git, report), project_plots(git, report, trials)
    plot_dir = output.parent / f"{output.stem}-plots"
    written = write_pngs(plot_dir, [*found, *declared])
    links = [(plot.title, f"{plot_dir.name}/{plot.file_name}") for plot in found if plot.png]
    project = [(plot, f"{plot_dir.name}/{plot.file_name}" if plot.png else None) for plot in declared]
    output.write_text(render_markdown(git, report, links, project), encoding="utf-8")
    return [output, *written]


def prepare_output(output: Path) -> None:
    """Make ``output``'s folder, refusing a path below a file (as the plots' folder beside it is made)."""
    blocking = next((folder for folder in (output.parent, *output.parent.parents) if folder.exists() and not folder.is_dir()), None)
    if blocking is not None:
        raise UsageError(f"-o {output}: {blocking} is a file, not a folder: write the report elsewhere")
    output.parent.mkdir(parents=True, exist_ok=True)


def write_pngs(folder: Path, found: Sequence[Plot]) -> list[Path]:
    """The PNGs of ``found`` in ``folder`` (made only when there is one)."""
    written = []
    for plot in found:
        if plot.png:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / plot.file_name).write_bytes(plot.png)
            written.append(folder / plot.file_name)
    return written
