"""Benchmark 5: the fuzzing budget: stateful property steps/s and exhaustive-check states/s.

Both drive the real decide()/apply() in memory. The stateful figure runs the property suite's
own machines (tests/properties/episode_machine.py) under Hypothesis for a fixed number of
examples and counts the steps they record; the exhaustive figure times the breadth-first search
(tests/properties/exhaustive.py: explore) up to a state budget. The baseline is a bare random
command loop through decide()+apply() with no Hypothesis, invariants or reference model: the
ratio is what the checking costs per step. Figures to plan the suite's depth, not goals.
"""

import importlib.util
import random
import time
from datetime import timedelta

from bench.core import Row, Sizes, say
from bench.history import ACTIONS, OBSERVATIONS, T0
from pathway.commands import AdministerDose, OpenEpisode, RecordAction, RecordObservation, StepCommand
from pathway.drugs import Drug
from pathway.episode import apply
from pathway.errors import Invalid, Refused
from pathway.machine import decide, decide_open

DRUGS = tuple(Drug)


def bare_loop(seconds: float = 3.0, seed: int = 5) -> float:
    """Random commands through decide()+apply() for `seconds`: steps/s (refusals count as steps)."""
    rng = random.Random(seed)
    steps = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        now = T0
        opened = decide_open(OpenEpisode(at=now, actor="fuzz", patient_ref="FUZZ-1", weight_kg=rng.uniform(10, 120),
                                         age_years=rng.uniform(1, 90)), "EFUZZ", now)
        episode = apply(None, opened)
        for _ in range(15):
            now += timedelta(minutes=rng.choice((1, 30, 240, 600)))
            roll = rng.random()
            cmd: StepCommand
            if roll < 0.6:
                cmd = RecordObservation(at=now, actor="fuzz", episode_id="EFUZZ", observation=rng.choice(OBSERVATIONS))
            elif roll < 0.8:
                cmd = RecordAction(at=now, actor="fuzz", episode_id="EFUZZ", action=rng.choice(ACTIONS))
            else:
                cmd = AdministerDose(at=now, actor="fuzz", episode_id="EFUZZ", drug=rng.choice(DRUGS),
                                     dose_mg=rng.choice((10.0, 100.0, 500.0)),
                                     override_reason=rng.choice((None, "fuzz override")))
            try:
                episode = apply(episode, decide(episode, cmd, now))
            except (Refused, Invalid):  # Invalid: an ICE score drawn for a child (the CAPD is theirs)
                pass
            steps += 1
    return steps / (time.perf_counter() - started)


def _stateful(examples: int) -> tuple[float, float, int] | str:
    if importlib.util.find_spec("hypothesis") is None:
        return "hypothesis is not installed (dev extra)"
    try:
        from tests.properties import reach
        from tests.properties.episode_machine import DefaultPolicyEpisodes, RandomPolicyEpisodes
    except ImportError as err:
        return f"tests/properties cannot be imported ({err})"
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    config = settings(max_examples=examples, deadline=None, stateful_step_count=15, database=None,
                      derandomize=True, suppress_health_check=list(HealthCheck))
    before = sum(reach.STEPS.values())
    started = time.perf_counter()
    for machine in (DefaultPolicyEpisodes, RandomPolicyEpisodes):
        run_state_machine_as_test(machine, settings=config)
    seconds = time.perf_counter() - started
    steps = sum(reach.STEPS.values()) - before
    return steps / seconds, 2 * examples / seconds, steps


def _exhaustive(budget: int) -> tuple[float, float, dict[str, object]] | str:
    try:
        from tests.properties.exhaustive import explore
    except ImportError as err:
        return f"tests/properties/exhaustive.py cannot be imported ({err})"
    try:
        result = explore(max_states=budget)  # the first slice (the pathway), stopped at the budget
    except TypeError as err:  # the suite's search changed its signature: say so, do not guess
        return f"tests/properties/exhaustive.explore could not be called ({err})"
    if result.violations:
        say(f"  fuzz: NOTE the exhaustive search reported {len(result.violations)} violation(s)")
    return result.states / result.seconds, result.edges / result.seconds, result.as_dict()


def run(sizes: Sizes) -> list[Row]:
    bare = bare_loop(1.0 if sizes.fuzz_examples < 10 else 3.0)
    say(f"  fuzz: bare decide+apply loop {bare:,.0f} steps/s")
    rows: list[Row] = []
    stateful = _stateful(sizes.fuzz_examples)
    if isinstance(stateful, str):
        say(f"  fuzz: SKIPPED stateful: {stateful}")
        rows.append(Row("5 fuzz", "stateful property steps/s", 0.0, "steps/s", note=f"skipped: {stateful}"))
    else:
        per_s, examples_per_s, steps = stateful
        rows.append(Row("5 fuzz", "stateful property steps/s", per_s, "steps/s", "bare decide+apply loop", bare,
                        note=f"{examples_per_s:.1f} examples/s ({steps:,} steps in {2 * sizes.fuzz_examples} examples, "
                             f"both machines, 15 steps max); ~{examples_per_s * 60:,.0f} examples per CPU-minute",
                        extra={"examples_per_s": examples_per_s}))
    exhaustive = _exhaustive(sizes.exhaustive_states)
    if isinstance(exhaustive, str):
        say(f"  fuzz: SKIPPED exhaustive: {exhaustive}")
        rows.append(Row("5 fuzz", "exhaustive check states/s", 0.0, "states/s", note=f"skipped: {exhaustive}"))
    else:
        states_s, edges_s, detail = exhaustive
        present = importlib.util.find_spec("tests.properties.test_exhaustive") is not None
        if present:
            say("  fuzz: tests/properties/test_exhaustive.py is present; timing its search (explore)")
        rows.append(Row("5 fuzz", "exhaustive check states/s", states_s, "states/s", "bare decide+apply loop", bare,
                        note=f"{edges_s:,.0f} edges/s; budget {sizes.exhaustive_states:,} states, reached "
                             f"{detail['states']:,} (complete={detail['complete']}); timed "
                             f"tests/properties/exhaustive.explore"
                             + ("" if present else " (test_exhaustive.py not present yet)"),
                        extra=detail))
    return rows
