"""Hyperband (Li et al., 2018): successive halving in brackets of decreasing aggressiveness.

With budget ``max_iter`` (R) and reduction factor ``eta``, ``s_max`` is the
largest s with eta**s <= R, found by exact arithmetic (in floating point
log(243)/log(3) < 5). Bracket s = s_max..0 samples
n = ceil((s_max+1)/(s+1) * eta**s) configurations and runs them at resource
r = R * eta**-s; inside a bracket, once every trial of rung i has finished, the
best floor(n_i/eta) by the objective go on to rung i+1 at resource r_i*eta.
Failed trials and trials without the metric rank last (they are still promoted
when a rung has fewer good trials than places, so rung sizes stay as planned).

Every rung's trials are new trials (new branches) carrying the configuration's
params, the ``resource`` param, and the tags ``{"bracket": s, "rung": i,
"config": c}``; (bracket, config) identifies a configuration, whose params are
drawn again from (seed, bracket, config) rather than read back. All state comes
from the tags of the finished and pending trials, so a trial missing from Git
(say, cancelled) is simply created again. Brackets run side by side: the next
trials are the missing ones of the largest bracket first, so promotions go
ahead of new configurations.

The ``resource_type`` int rounds budgets down (they are never below 1, since
eta**s_max <= R). ``max_trials``, when given, caps the total. ``resume`` is
accepted for Polyaxon files but has no effect: a trial branch starts from the
sweep's baseline, so a promoted configuration trains again from scratch.

A schedule of more than ``MAX_BRACKETS`` brackets (eta close to 1), or of more
than ``MAX_PLANNED_TRIALS`` trials that ``max_trials`` does not cap (a huge
``max_iter``), is refused before anything is computed or queued.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from gitexp.errors import UsageError
from gitexp.strategies.base import Strategy, TrialOutcome, TrialPlan, seeded_rng
from gitexp.sweep.expr import parse_target
from gitexp.sweep.space import exact

DEFAULT_ETA = 3
MAX_BRACKETS = 100  # eta close to 1 (1.0001) made tens of thousands, and as many exact powers of eta
MAX_PLANNED_TRIALS = 100_000  # as many trials as a queue takes at once (planning.queue), unless max_trials caps them

Position = tuple[int, int, int]  # (bracket, rung, config)


@dataclass(frozen=True)
class Rung:
    bracket: int
    index: int
    size: int
    resource: int | float


def max_bracket(max_iter: int, eta: int | float) -> int:
    """s_max: the largest s with eta**s <= max_iter, in exact arithmetic."""
    exact_eta = exact(eta)
    s = 0
    while exact_eta ** (s + 1) <= max_iter:
        s += 1
        if s >= MAX_BRACKETS:
            raise UsageError(
                f"hyperband with max_iter {_shown(max_iter)} and eta {eta} makes more than {MAX_BRACKETS} brackets: "
                "raise eta (3 is usual) or lower max_iter"
            )
    return s


def schedule(max_iter: int, eta: int | float = DEFAULT_ETA, resource_type: str = "int") -> list[list[Rung]]:
    """Every bracket's rungs, largest bracket first."""
    s_max = max_bracket(max_iter, eta)
    return [_bracket(s, s_max, max_iter, exact(eta), resource_type) for s in range(s_max, -1, -1)]


def _bracket(s: int, s_max: int, max_iter: int, eta: Fraction, resource_type: str) -> list[Rung]:
    size = math.ceil(Fraction(s_max + 1, s + 1) * eta**s)
    rungs = []
    for index in range(s + 1):
        if size == 0:  # only a fractional eta can thin a bracket out before its last rung
            break
        resource = max_iter * eta ** (index - s)
        rungs.append(Rung(s, index, size, math.floor(resource) if resource_type == "int" else float(resource)))
        size = math.floor(size / eta)
    return rungs


def _shown(number: int) -> str:
    """``1250962``, or ``about 10^400`` for a number too long to read."""
    return str(number) if number < 10**30 else f"about 10^{round(number.bit_length() * math.log10(2))}"


def position(outcome: TrialOutcome) -> Position | None:
    """Where a trial sits in the schedule, from its tags; None for a trial hyperband did not plan."""
    keys = (outcome.tags.get("bracket"), outcome.tags.get("rung"), outcome.tags.get("config"))
    return keys if all(isinstance(key, int) and not isinstance(key, bool) for key in keys) else None


class HyperbandStrategy(Strategy):
    """Expects a validated spec: ``resource``, ``max_iter`` and an objective are present."""

    name = "hyperband"
    adaptive = True

    def __init__(self, spec):
        super().__init__(spec)
        options = spec.options
        self.resource = parse_target(options["resource"])
        eta = options.get("eta", DEFAULT_ETA)
        self.brackets = schedule(options["max_iter"], eta, options.get("resource_type", "int"))
        total = sum(rung.size for rungs in self.brackets for rung in rungs)
        cap = spec.num_planned_trials()
        if total > MAX_PLANNED_TRIALS and (cap is None or cap > MAX_PLANNED_TRIALS):
            raise UsageError(
                f"hyperband with max_iter {_shown(options['max_iter'])} and eta {eta} plans {_shown(total)} trials, more than "
                f"{MAX_PLANNED_TRIALS:,}: lower max_iter, raise eta, or cap them with max_trials (--num-trials)"
            )

    def planned_trials(self) -> int:
        total = sum(rung.size for rungs in self.brackets for rung in rungs)
        cap = self.spec.num_planned_trials()
        return total if cap is None else min(total, cap)

    def suggest(self, finished: Sequence[TrialOutcome], pending: Sequence[TrialOutcome], limit: int) -> list[TrialPlan]:
        budget = min(limit, self.planned_trials() - len(finished) - len(pending))
        if budget <= 0:
            return []
        # A later outcome for the same position (a re-run) replaces an earlier one.
        results = {position(trial): trial for trial in finished}
        created = set(results) | {position(trial) for trial in pending}
        missing = itertools.chain.from_iterable(self._missing(rungs, results, created) for rungs in self.brackets)
        return list(itertools.islice(missing, budget))

    def _missing(self, rungs: list[Rung], results: Mapping[Position, TrialOutcome], created: set) -> Iterator[TrialPlan]:
        """The bracket's trials not created yet, as far as its finished rungs tell."""
        members: Sequence[int] = range(rungs[0].size)
        for rung, next_rung in itertools.zip_longest(rungs, rungs[1:]):
            for config in members:
                if (rung.bracket, rung.index, config) not in created:
                    yield self._plan(rung, config)
            outcomes = [results.get((rung.bracket, rung.index, config)) for config in members]
            if next_rung is None or None in outcomes:
                return  # the last rung, or one still running: nothing further is known
            members = self._promoted(members, outcomes, next_rung.size)

    def _promoted(self, members: Sequence[int], outcomes: list[TrialOutcome], places: int) -> list[int]:
        """The best ``places`` configurations; ties go to the lower config index."""
        sign = -1 if self.spec.objective.goal == "maximize" else 1

        def rank(pair: tuple[int, TrialOutcome]):
            config, outcome = pair
            score = outcome.score(self.spec.objective)
            return (score is None, 0 if score is None else sign * score, config)

        return [config for config, _ in sorted(zip(members, outcomes), key=rank)[:places]]

    def _plan(self, rung: Rung, config: int) -> TrialPlan:
        params = self.spec.space.sample(seeded_rng(self.spec, "hyperband", rung.bracket, config))
        params[self.resource] = rung.resource
        return TrialPlan(params, {"bracket": rung.bracket, "rung": rung.index, "config": config})
