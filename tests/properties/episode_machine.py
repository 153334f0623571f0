"""The stateful property suite: whole episodes driven in memory through decide() + apply().

Random observations (any subset of fields, the empty one included; CAPD for children under the
policy's CAPD age, ICE for the others, and now and then the wrong screen, which must be invalid input
with nothing folded), doses of every drug from 0.1 mg to 10,000 mg (ceilings exactly, a hair above,
a hair below), routes, actions, overrides, resolve/close and clock jumps, with backdated and future
times; plus the guided rules of guided.py so escalated_steroid, refractory, resolved and ICANS-only
episodes are reached often. After every step the invariants below must hold; a reference model runs
beside the real machine. Test classes live in test_episode_machine.py; this module is imported (not
collected) so test_teeth.py can run the same machines with a guard disabled.

Issue 10: the machines Corrected*PolicyEpisodes (what test_episode_machine.py runs) add the rules of
corrections.py: corrections, voids and late entries, decided by pathway.history.decide_change with the
machine's own events. The machines without them are exactly those of issue 9, so the teeth and regression
tests of earlier issues keep their examples. Every invariant below reads the
effective history (`self.effective`), the entries that stand re-decided as if recorded on time. The
first invariant to run (invariants run in name order), `accepted_changes_keep_the_rules`, judges each
change: the effective history keeps every hard limit (safety.history_problems, restated from
CLINICAL.md); an accepted change lists exactly the overridable rules only its override passes, entry by
entry, and carries that override; the episode decide_change returns is the fold of the corrected
history re-decided entry by entry; a refused one changes nothing and is the predicted refusal
(rules and breaks_seq); the stored events stay exactly as accepted. At the end of an episode with
changes: episode_of(events) and replay(events) give the live episode, redecide(standing(events))
gives the suite's effective history, and episode_of(events, as_of=t) its entries up to t.
"""

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from pathway.commands import AdministerDose, Close, RecordAction, RecordObservation, Resolve, StepCommand
from pathway.drugs import Action, Drug, Route
from pathway.policy import DEFAULT_POLICY, Policy
from pathway.recommend import status
from states import State
from tests.properties import advice, effective as E, reach, safety, strategies as S
from tests.properties.corrections import CorrectionRules
from tests.properties.driving import ACTOR, EPISODE_ID, STATUS_KEYS, open_states
from tests.properties.guided import GuidedRules
from tests.properties.model import COVERED


class EpisodeMachine(GuidedRules):
    """Random steps and every invariant. Subclasses choose the policy (teeth tests switch the model off)."""

    #: Compare what decide_change did (the episode it returns, its `overrides` listing, the corrected or late
    #: entry's stored data) with the suite's own re-decision of the corrected history. Teeth tests switch it
    #: off to show that the hard limits of the effective history alone catch a disabled re-check.
    CHANGE_CROSS_CHECKS = True

    # -- random rules -----------------------------------------------------------------------------
    #: Compare the episode's latest assessed grades and zero streak with the raw events after every
    #: step (a teeth test switches it off to show the resolve invariant catches a broken streak alone).
    FOLD_VIEW = True

    # -- random rules -----------------------------------------------------------------------------
    @precondition(open_states)
    @rule(recipe=S.observation_recipes(), when=S.WHEN)
    def observe(self, recipe: dict[str, object], when: tuple[str, float]) -> None:
        """Any subset of fields, with the screen for this patient's age (CAPD or ICE), or the wrong one."""
        obs = S.build_observation(recipe, self.child)
        self._step(RecordObservation(at=self._at(when), actor=ACTOR, episode_id=EPISODE_ID, observation=obs))

    @precondition(open_states)
    @rule(drug=S.DRUGS, recipe=S.DOSE_RECIPES, route=S.ROUTE_CHOICE, reason=S.MAYBE_REASON, when=S.WHEN)
    def give(self, drug: Drug, recipe: tuple[str, float], route: Route | None, reason: str | None,
             when: tuple[str, float]) -> None:
        assert self.ep is not None
        dose = S.resolve_dose(recipe, drug, self.ep.weight_kg)
        self._step(AdministerDose(at=self._at(when), actor=ACTOR, episode_id=EPISODE_ID, drug=drug, dose_mg=dose,
                                  route=route, override_reason=reason))

    @precondition(open_states)
    @rule(drug=S.DRUGS, dose=st.sampled_from([0.0999, 0.05, 0.01, 1e-300, 0.0, -1.0]))
    def give_below_the_minimum(self, drug: Drug, dose: float) -> None:
        """H5: a dose under 0.1 mg is a typo, never therapy: invalid input (exit 2), never decided."""
        try:
            AdministerDose(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID, drug=drug, dose_mg=dose,
                           override_reason="typo")
        except ValueError:
            self._tally(reach.OUTCOMES, (self.NAME, "dose below 0.1 mg (invalid)"))
            return
        raise AssertionError(f"MIN_DOSE: a {drug.value} dose of {dose:g} mg was accepted as a command")

    @precondition(open_states)
    @rule(action=S.ACTIONS, text=S.NOTES, when=S.WHEN)
    def act(self, action: Action, text: str | None, when: tuple[str, float]) -> None:
        self._step(RecordAction(at=self._at(when), actor=ACTOR, episode_id=EPISODE_ID, action=action, note=text))

    @precondition(open_states)
    @rule(reason=S.MAYBE_REASON, when=S.WHEN)
    def resolve(self, reason: str | None, when: tuple[str, float]) -> None:
        self._step(Resolve(at=self._at(when), actor=ACTOR, episode_id=EPISODE_ID, override_reason=reason))

    @precondition(lambda self: open_states(self) and (self.ep.version >= 8 or self.ep.state is State.RESOLVED))
    @rule(reason=st.one_of(st.none(), st.just("CRS resolved")), when=S.WHEN)
    def close(self, reason: str | None, when: tuple[str, float]) -> None:
        self._step(Close(at=self._at(when), actor=ACTOR, episode_id=EPISODE_ID, reason=reason))

    @precondition(lambda self: self.ep is not None)
    @rule(hours=S.JUMPS)
    def jump(self, hours: float) -> None:
        self._jump(hours)

    @precondition(lambda self: self.ep is not None and self.ep.is_closed and self.pokes < 2)
    @rule(kind=st.sampled_from(["observe", "give", "act", "resolve", "close"]), drug=S.DRUGS,
          reason=S.MAYBE_REASON)
    def poke_closed(self, kind: str, drug: Drug, reason: str | None) -> None:
        """Any step on a closed episode (EPISODE_CLOSED)."""
        self.pokes += 1
        common = {"at": self._ready_at, "actor": ACTOR, "episode_id": EPISODE_ID}
        cmd: StepCommand = {
            "observe": lambda: RecordObservation(**common, observation=S.graded_observation(3, 0, self.child)),
            "give": lambda: AdministerDose(**common, drug=drug, dose_mg=1.0, override_reason=reason),
            "act": lambda: RecordAction(**common, action=Action.LABS),
            "resolve": lambda: Resolve(**common, override_reason=reason),
            "close": lambda: Close(**common),
        }[kind]()
        self._step(cmd)

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def accepted_changes_keep_the_rules(self) -> None:
        """Issue 10, run first (name order): every correction, void and late entry since the last check.

        After an accepted one, before anything else: the effective history (the standing entries
        re-decided as if recorded on time) breaks no hard limit, judged from its doses and times alone
        (safety.history_problems); the stored events are exactly those accepted, plus this one. Then each
        change is judged by effective.accepted_problems / refused_problems (see the module docstring)."""
        if self.ep is None:
            return
        batch = self._unchecked_changes()
        if not batch:
            return
        problems: list[str] = []
        if any(rec.event is not None for rec in batch):
            problems += safety.history_problems(self.effective, self.ep.weight_kg, effective=True)
        problems += E.chain_problems(self.events, self.canon)
        for rec in batch:
            if rec.event is not None:
                assert rec.after is not None
                problems += E.accepted_problems(rec.cmd, rec.now, rec.pre, rec.n, rec.event, rec.after,
                                                rec.prediction, self.REFERENCE, self.CHANGE_CROSS_CHECKS)
                continue
            if not rec.unchanged or rec.pre.model_dump() != rec.before:
                problems.append(f"REFUSED_CHANGED: a {rec.kind} that was not accepted changed the episode or its "
                                "events")
            invalid = rec.invalid.message if rec.invalid is not None else None
            problems += E.refused_problems(rec.cmd, rec.refused, invalid, rec.prediction, rec.standing,
                                           self.REFERENCE)
        assert not problems, "\n".join(problems)

    @invariant()
    def history_is_safe(self) -> None:
        if self.ep is not None:
            problems = safety.history_problems(self.effective, self.ep.weight_kg, effective=self.changed > 0)
            assert not problems, "\n".join(problems)

    @invariant()
    def accepted_steps_carry_exactly_their_overrides(self) -> None:
        """Re-run violations() on each accepted step's pre-state: overridable violations found means
        an override naming exactly those rules, with the reason and actor; none means no override;
        a hard one means the step should never have been accepted. decide() never mutates its input."""
        problems: list[str] = []
        for rec in self._unchecked("overrides"):
            if rec.event is None:
                continue
            problems += safety.override_problems(rec.pre, rec.cmd, rec.now, rec.event)
            if rec.pre.model_dump() != rec.before:
                problems.append("DECIDE_MUTATED: decide() changed its input episode")
        assert not problems, "\n".join(problems)

    @invariant()
    def refused_steps_change_nothing(self) -> None:
        """A refusal names known rules (hard first), agrees with violations(), and leaves the episode
        and its events exactly as they were."""
        problems: list[str] = []
        for rec in self._unchecked("refusals"):
            if rec.invalid is not None:
                if not rec.unchanged or rec.pre.model_dump() != rec.before:
                    problems.append("SCREEN: an invalid observation (wrong ICANS screen) changed the episode")
                continue
            if rec.refused is None:
                continue
            problems += safety.refusal_problems(rec.pre, rec.cmd, rec.now, rec.refused)
            if not rec.unchanged or rec.pre.model_dump() != rec.before:
                problems.append("REFUSED_CHANGED: a refused command changed the episode or its events")
        assert not problems, "\n".join(problems)

    @invariant()
    def fold_equals_live(self) -> None:
        """fold(events) == the live episode. fold is a left fold of apply(), so it is computed here
        incrementally, from each event's canonical JSON (what the store keeps); the fold from scratch,
        fold(as_of=...), the snapshot round trip and a full re-decide (replay) run when an episode ends."""
        if self.ep is None:
            return
        if self.CHANGE_CROSS_CHECKS or not self.changed:
            assert self.replayed == self.ep, "FOLD: folding the events' canonical JSON differs from the live episode"
        assert self.ep.version == len(self.events), "FOLD: version"
        if self.CHANGE_CROSS_CHECKS or not self.changed:
            assert self.ep.last_at == self.effective[-1].at, "FOLD: last_at is not the latest effective entry's time"
        assert self.ep.state.value == self.events[-1].to_state, "FOLD: state is not the last event's to_state"
        assert self.ep.corrections == self.changed, \
            f"FOLD: the episode counts {self.ep.corrections} corrections, {self.changed} were accepted"
        if len(self.events) > 1:
            assert self.events[-1].from_state == self.events[-2].to_state, \
                f"CHAIN: seq {self.events[-1].seq} starts in {self.events[-1].from_state}, the previous ended in " \
                f"{self.events[-2].to_state}"

    @invariant()
    def reference_model_agrees(self) -> None:
        """The tiny model's hard-rule predictions match what decide() did, both ways."""
        if self.ep is None or self.model is None or not self.REFERENCE:
            return
        problems: list[str] = []
        for rec in self._unchecked("reference"):
            expected = rec.expected or set()
            if rec.wrong_screen != (rec.invalid is not None):
                problems.append(f"SCREEN: model expected {'invalid input' if rec.wrong_screen else 'a valid screen'}"
                                f" for age {self.model.age_years:g}, the core "
                                f"{'raised Invalid' if rec.invalid else 'decided the observation'}")
            if rec.invalid is not None:
                continue
            if rec.refused is not None:
                got = {(v.rule, v.overridable) for v in rec.refused.violations if v.rule in COVERED}
                if got != expected:
                    problems.append(f"REFERENCE {sorted(got ^ expected)}: model expected {sorted(expected)}, "
                                    f"machine refused {sorted(got)}")
                continue
            assert rec.event is not None
            if rec.grades is not None:
                got_grades = (rec.event.data["crs_grade"], rec.event.data["icans_grade"])
                if got_grades != rec.grades:
                    problems.append(f"GRADE: model grades the observation (CRS, ICANS) {rec.grades}, the core "
                                    f"{got_grades}: {rec.event.data['observation']}")
            hard = sorted(r for r, overridable in expected if not overridable)
            soft = {r for r, overridable in expected if overridable}
            passed = {r for r in (rec.event.override.rules if rec.event.override else ()) if r in COVERED}
            if hard:
                problems.append(f"REFERENCE {hard}: model expected a hard refusal, machine accepted")
            if soft != passed:
                problems.append(f"REFERENCE {sorted(soft ^ passed)}: model expected override of {sorted(soft)}, "
                                f"event overrode {sorted(passed)}")
        assert not problems, "\n".join(problems)
        assert self.ep.is_closed == self.model.closed, f"REFERENCE EPISODE_CLOSED: state {self.ep.state}"
        assert len(self.ep.toci_doses) == self.model.toci_count, "REFERENCE TOCI_MAX_DOSES: dose count differs"
        assert self.ep.last_at == self.model.last_at, "REFERENCE TIME_ORDER: last_at differs"

    @invariant()
    def null_grades_never_count_as_zero(self) -> None:
        """The episode's latest assessed CRS / ICANS grades and its zero streak are what the raw events
        give: a not-assessed observation changes neither grade, and never starts or extends the streak."""
        if self.ep is None or not self.FOLD_VIEW:
            return
        problems = safety.fold_view_problems(self.effective, self.ep)
        assert not problems, "\n".join(problems)

    @invariant()
    def status_never_recommends_a_refused_give(self) -> None:
        """`crs status` now: every key; every recommended dose (every option of an alternatives step) under
        its hard and per-kg ceilings and accepted as it stands (H13); one steroid step, one refractory step;
        tocilizumab only at CRS >= 2 (or persistent grade-1 fever); and no deadline sliding with the clock."""
        ep = self.ep
        seen = self._status_seen
        if ep is None or (seen is not None and seen[0] is ep and seen[1] == self.now):
            return  # nothing changed since the last check (a refused or invalid step): status is a pure function
        self._status_seen = (ep, self.now)
        st_ = status(ep, self.now)
        missing = STATUS_KEYS - set(st_)
        assert not missing, f"STATUS: keys missing {missing}"
        assert st_["state"] == ep.state.value
        problems = advice.status_problems(ep, self.effective, self.now, st=st_)
        assert not problems, "\n".join(problems)

    def teardown(self) -> None:
        if self.COUNTED:
            self._tally_episode()
            reach.EXAMPLES[self.NAME] += 1
            reach.EPISODES[self.NAME] += self.episodes
            for state in self.visited:
                reach.STATES_REACHED[(self.NAME, state)] += 1
            for kind, states in self.kind_visited.items():
                reach.KIND_EXAMPLES[(self.NAME, kind)] += 1
                for state in states:
                    reach.KIND_STATES[(self.NAME, kind, state)] += 1
        self._finish_episode()


def closed_and_poked(self: EpisodeMachine) -> bool:
    return self.ep is not None and self.ep.is_closed and self.pokes >= 1


class DefaultPolicyEpisodes(EpisodeMachine):
    NAME = "default-policy"

    @initialize(weight=S.WEIGHTS, age=S.AGES, when_min=st.sampled_from([0.0, -60.0, 5.0, 6.0]))
    def open_episode(self, weight: float, age: float, when_min: float) -> None:
        self._open(weight, age, DEFAULT_POLICY, when_min)

    @precondition(closed_and_poked)
    @rule(weight=S.WEIGHTS, age=S.AGES)
    def next_episode(self, weight: float, age: float) -> None:
        self._next_episode(weight, age, DEFAULT_POLICY)


class RandomPolicyEpisodes(EpisodeMachine):
    NAME = "random-policy"

    @initialize(weight=S.WEIGHTS, age=S.AGES, policy=S.policies(), when_min=st.sampled_from([0.0, -60.0, 5.0, 6.0]))
    def open_episode(self, weight: float, age: float, policy: Policy, when_min: float) -> None:
        self._open(weight, age, policy, when_min)

    @precondition(closed_and_poked)
    @rule(weight=S.WEIGHTS, age=S.AGES, policy=S.policies())
    def next_episode(self, weight: float, age: float, policy: Policy) -> None:
        self._next_episode(weight, age, policy)


class CorrectedDefaultPolicyEpisodes(CorrectionRules, DefaultPolicyEpisodes):
    """The default policy, with corrections, voids and late entries (issue 10)."""


class CorrectedRandomPolicyEpisodes(CorrectionRules, RandomPolicyEpisodes):
    """Random policies, with corrections, voids and late entries (issue 10)."""
