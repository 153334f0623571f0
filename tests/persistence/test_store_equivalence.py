"""Equivalence: the same random command sequence, in memory (decide + apply) and through the
store (pathway.service.handle on a real database), compared after every step.

The in-memory side is the reference; the store must accept and refuse exactly the same steps,
produce the same events byte for byte, keep a snapshot equal to the in-memory episode, log
every refusal, and leave a chain that `audit verify` accepts. Rules jump the clock and lean
toward escalation (grade 2-4 observations, the doses each phase calls for, overrides) so the
later states are reached; the states reached are printed (`pytest -s`).
"""

import os
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from pathway.commands import AdministerDose, Close, OpenEpisode, RecordAction, RecordObservation, Resolve, StepCommand
from pathway.drugs import Action, Drug
from pathway.episode import Episode, apply
from pathway.errors import Invalid, Refused
from pathway.events import Event
from pathway.machine import decide, decide_open
from pathway.observations import Observation
from pathway.service import handle
from persistence import audit
from persistence.store import Store

EXAMPLES = int(os.environ.get("CRS_EQUIVALENCE_EXAMPLES", "25"))
SETTINGS = settings(
    max_examples=EXAMPLES, stateful_step_count=30, deadline=None, database=None,
    derandomize=os.environ.get("HYPOTHESIS_PROFILE") == "ci",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
START = datetime(2025, 6, 1, 6, 0, tzinfo=timezone.utc)

GRADED = {  # observations that grade CRS 0-4 under the default policy
    0: {"temp_c": 36.8, "o2_device": "room-air", "ice_score": 10, "consciousness": "awake"},
    1: {"temp_c": 39.4},
    2: {"temp_c": 39.4, "o2_device": "nasal-cannula", "o2_flow_lpm": 4},
    3: {"temp_c": 39.4, "o2_device": "hfnc", "o2_flow_lpm": 30, "fio2": 0.35},
    4: {"temp_c": 39.4, "o2_device": "bipap", "vasopressors": 2},
}
ICANS = [{}, {"ice_score": 5, "consciousness": "voice"}, {"ice_score": 0, "consciousness": "unarousable"}]


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    """Mostly the graded fixtures (escalation-biased); sometimes free values, floats included."""
    if draw(st.integers(0, 3)) > 0:
        crs = draw(st.sampled_from([0, 1, 2, 2, 3, 3, 4]))
        return Observation(**{**GRADED[crs], **draw(st.sampled_from(ICANS))})
    device = draw(st.sampled_from([None, "room-air", "nasal-cannula", "hfnc", "facemask", "ventilator"]))
    with_o2 = device not in (None, "room-air")
    return Observation(
        temp_c=draw(st.one_of(st.none(), st.floats(35, 41.5).map(lambda t: round(t, 2)))),
        hypotension=draw(st.booleans()), vasopressors=draw(st.integers(0, 3)), o2_device=device,
        o2_flow_lpm=draw(st.floats(0.5, 60)) if with_o2 and draw(st.booleans()) else None,
        fio2=draw(st.floats(0.21, 1.0)) if with_o2 and draw(st.booleans()) else None,
        ice_score=draw(st.one_of(st.none(), st.integers(0, 10))),
    )


def dose_for(drug: Drug, weight_kg: float, pick: int) -> float:
    """A dose near what each drug calls for (pick 0-2), or a deliberately odd one (3)."""
    usual = {
        Drug.TOCILIZUMAB: min(8 * weight_kg if weight_kg >= 30 else 12 * weight_kg, 800),
        Drug.DEXAMETHASONE: (10, 20, 10)[pick % 3], Drug.METHYLPREDNISOLONE: (2 * weight_kg, 1000, 1)[pick % 3],
        Drug.ANAKINRA: 100 if weight_kg >= 40 else 2 * weight_kg, Drug.SILTUXIMAB: 11 * weight_kg,
        Drug.RUXOLITINIB: 10, Drug.CYCLOPHOSPHAMIDE: 750,
    }[drug]
    return round(usual * (1.37 if pick == 3 else 1), 1)


#: Drugs weighted toward the first lines, so tocilizumab and steroid phases are reached often.
DRUG_CHOICE = st.sampled_from([Drug.TOCILIZUMAB] * 3 + [Drug.DEXAMETHASONE] * 3 + [Drug.METHYLPREDNISOLONE] * 2
                              + [Drug.ANAKINRA, Drug.SILTUXIMAB, Drug.RUXOLITINIB, Drug.CYCLOPHOSPHAMIDE])


def make_test_class(store: Store, reached: Counter[str], figures: Counter[str]) -> type[RuleBasedStateMachine]:
    class StoreMatchesMemory(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.memory: Episode | None = None
            self.clock = START

        # -- the two paths, side by side ---------------------------------------------------------
        def _compare(self, expected: Event | Refused, command: Any, now: datetime) -> None:
            refusals_before = len(store.refusals(self.memory.id)) if self.memory else None
            if isinstance(expected, Invalid):  # the wrong ICANS screen for the age: exit 2, nothing written
                with pytest.raises(Invalid):
                    handle(command, store.unit_of_work(), now)
                assert len(store.refusals(self.memory.id)) == (refusals_before or 0)  # type: ignore[union-attr]
                assert store.episode(self.memory.id) == self.memory  # type: ignore[union-attr]
                figures["invalid"] += 1
                return
            try:
                got = handle(command, store.unit_of_work(), now)
            except Refused as refused:
                assert isinstance(expected, Refused), f"store refused {refused.rules}, memory accepted"
                assert refused.rules == expected.rules
                assert len(store.refusals(self.memory.id)) == (refusals_before or 0) + 1  # type: ignore[union-attr]
                figures["refused"] += 1
                note(f"refused {refused.rules}")
                return
            assert isinstance(expected, Event), f"store accepted, memory refused {expected.rules}"  # type: ignore[union-attr]
            # the store adds only its stamps (login, snapshot hash), and always both
            assert got.event.decided() == expected and got.event.decided().canonical() == expected.canonical()
            assert got.event.login and got.event.snapshot_sha256
            self.memory = apply(self.memory, expected)
            assert got.episode == self.memory
            reached[str(self.memory.state)] += 1
            figures["accepted"] += 1
            note(f"seq {expected.seq}: {expected.kind} -> {expected.to_state}")

        def step(self, command: StepCommand) -> None:
            assert self.memory is not None
            now = self.clock + timedelta(minutes=1)
            expected: Event | Refused | Invalid
            try:
                expected = decide(self.memory, command, now)
            except (Refused, Invalid) as error:
                expected = error
            self._compare(expected, command, now)

        def tick(self, minutes: int) -> datetime:
            self.clock += timedelta(minutes=minutes)
            return self.clock

        # -- rules ------------------------------------------------------------------------------
        @initialize(weight=st.sampled_from([12.0, 28.5, 70.0, 118.3]), age=st.sampled_from([6.0, 17.0, 54.5]))
        def open_episode(self, weight: float, age: float) -> None:
            now = self.clock + timedelta(minutes=1)
            cmd = OpenEpisode(at=self.clock, actor="hyp", patient_ref="PT-EQUIV", weight_kg=weight, age_years=age)
            got = handle(cmd, store.unit_of_work(), now)
            expected = decide_open(cmd, got.episode.id, now)
            assert got.event.decided() == expected and got.event.login and got.event.snapshot_sha256
            self.memory = apply(None, expected)
            assert got.episode == self.memory
            reached[str(self.memory.state)] += 1
            note(f"open {self.memory.id} weight {weight} age {age}")

        @rule(obs=observations(), minutes=st.integers(0, 240),
              capd=st.one_of(st.none(), st.sampled_from([0, 1, 8, 9, 32, "unable"])))
        def observe(self, obs: Observation, minutes: int, capd: int | str | None) -> None:
            at = self.tick(minutes)
            if capd is not None and self.memory is not None and self.memory.age_years < 12:
                # a child is screened with the CAPD (the ICE score is then invalid input, also exercised)
                obs = Observation(**{**obs.model_dump(exclude={"ice_score", "capd_score", "capd_unable"}),
                                     "capd_score": capd if capd != "unable" else None,
                                     "capd_unable": capd == "unable"})
            self.step(RecordObservation(at=at, actor="hyp", episode_id=self.memory.id, observation=obs))  # type: ignore[union-attr]

        @rule(drug=DRUG_CHOICE, pick=st.integers(0, 3), minutes=st.integers(0, 600),
              override=st.sampled_from([None, None, "agreed by the attending"]))
        def give(self, drug: Drug, pick: int, minutes: int, override: str | None) -> None:
            at = self.tick(minutes)
            dose = dose_for(drug, self.memory.weight_kg, pick)  # type: ignore[union-attr]
            self.step(AdministerDose(at=at, actor="hyp", episode_id=self.memory.id, drug=drug, dose_mg=dose,  # type: ignore[union-attr]
                                     override_reason=override))

        @rule(action=st.sampled_from(list(Action)), minutes=st.integers(0, 60))
        def act(self, action: Action, minutes: int) -> None:
            self.step(RecordAction(at=self.tick(minutes), actor="hyp", episode_id=self.memory.id, action=action))  # type: ignore[union-attr]

        @rule(hours=st.sampled_from([8, 12, 24, 30]))
        def jump_clock(self, hours: int) -> None:
            self.tick(hours * 60)

        @precondition(lambda self: self.memory is not None and self.memory.version >= 8)
        @rule(override=st.sampled_from([None, None, None, "clinically resolved"]), minutes=st.integers(0, 120))
        def resolve(self, override: str | None, minutes: int) -> None:
            self.step(Resolve(at=self.tick(minutes), actor="hyp", episode_id=self.memory.id,  # type: ignore[union-attr]
                              override_reason=override))

        @precondition(lambda self: self.memory is not None and self.memory.version >= 12)
        @rule()
        def close(self) -> None:
            self.step(Close(at=self.tick(5), actor="hyp", episode_id=self.memory.id, reason="discharged"))  # type: ignore[union-attr]

        @rule(back_minutes=st.sampled_from([1, 90]))
        def backdated(self, back_minutes: int) -> None:
            """A step dated before the latest event: both sides must refuse it (TIME_ORDER)."""
            at = self.memory.last_at - timedelta(minutes=back_minutes)  # type: ignore[union-attr]
            self.step(RecordAction(at=at, actor="hyp", episode_id=self.memory.id, action="labs"))  # type: ignore[union-attr]

        # -- invariants -------------------------------------------------------------------------
        @invariant()
        def snapshot_and_history_match_memory(self) -> None:
            if self.memory is None:
                return
            assert store.episode(self.memory.id) == self.memory
            assert len(store.history(self.memory.id)) == self.memory.version

        def teardown(self) -> None:
            if self.memory is not None:
                report = audit.verify(store, self.memory.id)
                assert report.ok, report.as_json()
                figures["episodes"] += 1

    return StoreMatchesMemory


def test_store_and_memory_agree_step_by_step(url: str, store: Store) -> None:
    reached: Counter[str] = Counter()
    figures: Counter[str] = Counter()
    run_state_machine_as_test(make_test_class(store, reached, figures), settings=SETTINGS)
    assert figures["accepted"] > 0 and figures["refused"] > 0
    assert audit.verify(Store.open(url, read_only=True)).ok
    print(f"\n[equivalence/{store.backend}] episodes {figures['episodes']}, steps accepted {figures['accepted']}, "
          f"refused {figures['refused']}; steps ending in each state: {dict(reached)}")
