"""Guided rules: the pathway's right next step, so rare states are reached often.

Uniform random steps seldom get past the steroid phase (DESIGN.md, Lessons). These rules take the
step a clinician following the pathway would take (grade 3, tocilizumab, dexamethasone, a 25 h
wait without improvement, escalation, another wait, anakinra, a grade-0 streak over the resolution
window, resolve, close), plus courses of tocilizumab toward its limits, doses right at or past
each hard limit, following `crs status` (any option of an alternatives step), ICANS-only courses
(neuro findings without CRS, CAPD for children) and streaks broken by a partial observation.
Every guided observation carries the ICANS screen the patient's age calls for.
"""

from collections.abc import Callable
from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from pathway.commands import AdministerDose, Close, RecordObservation, Resolve
from pathway.dosing import anakinra_dose_mg, toci_dose_mg
from pathway.drugs import Drug, Route
from pathway.observations import Observation
from pathway.recommend import status
from states import State
from tests.properties import safety, strategies as S
from tests.properties.driving import ACTOR, EPISODE_ID, GUIDED, EpisodeDriver, floor_01, note_lazily, open_states


class GuidedRules(EpisodeDriver):
    """Rules that push an episode along the pathway (mixed in before the random rules)."""

    def _guided_step(self) -> None:
        """One right next step from the current state (a command or a clock jump)."""
        ep = self.ep
        assert ep is not None
        p, w, s = ep.policy, ep.weight_kg, ep.state
        latest = ep.latest
        if s is State.CLOSED:
            return
        if s is State.RESOLVED:
            self._step(Close(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID, reason="CRS resolved"))
        elif s is State.ASSESSMENT:
            if ep.crs is None or ep.crs.grade < 3 or latest is None or latest.crs_grade is None:
                self._observe(3)
            else:
                self._give(Drug.TOCILIZUMAB, min(toci_dose_mg(w, p), floor_01(safety.toci_limit_mg(w))))
        elif s is State.TOCILIZUMAB:
            self._give(Drug.DEXAMETHASONE, p.dexamethasone_standard_mg)
        elif s is State.STEROID:
            self._no_improvement_then(p.escalation_window_h, self._escalate)
        elif s is State.ESCALATED_STEROID:
            self._no_improvement_then(p.refractory_window_h, lambda: self._give(
                Drug.ANAKINRA, anakinra_dose_mg(w, ep.age_years, p)))
        elif s is State.REFRACTORY:
            self._calm_step()

    def _no_improvement_then(self, window_h: float, then: Callable[[], object]) -> None:
        """Wait out the phase's window, observe no improvement, then take the next line."""
        ep = self.ep
        assert ep is not None and ep.phase_started_at is not None
        ends = ep.phase_started_at + timedelta(hours=window_h)
        if ep.latest is not None and ep.latest.at >= ends:
            then()
        elif self.now < ends:
            self._jump_to(ends + timedelta(hours=1))
        else:
            baseline = ep.phase_start_severity
            self._observe(min(baseline, 4) if baseline and baseline >= 1 else 3)

    def _escalate(self) -> None:
        """An escalated-intensity steroid dose under this policy (dexamethasone, else methylprednisolone)."""
        ep = self.ep
        assert ep is not None
        p, w = ep.policy, ep.weight_kg
        if p.dexamethasone_escalated_mg > p.dexamethasone_standard_mg:
            self._give(Drug.DEXAMETHASONE, p.dexamethasone_escalated_mg)
        else:
            self._give(Drug.METHYLPREDNISOLONE, min(1000.0, max(p.methylprednisolone_escalated_mg,
                                                                 p.standard_methylprednisolone_mg_per_kg * w + 0.1)))

    def _calm_step(self) -> None:
        """CRS and ICANS grade 0 for longer than the resolution window, then resolve."""
        ep = self.ep
        assert ep is not None
        latest = ep.latest
        if latest is None or latest.crs_grade != 0 or latest.icans_grade != 0 or ep.zero_streak_since is None:
            self._observe(0)
            return
        ready = ep.zero_streak_since + timedelta(hours=ep.policy.resolution_window_h)
        if self._ready_at < ready:
            self._jump_to(ready + timedelta(minutes=30))
        elif latest.at < ready:
            self._observe(0)
        else:
            self._step(Resolve(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID))

    @precondition(open_states)
    @rule(k=st.integers(1, 8))
    def guided(self, k: int) -> None:
        """k right next steps."""
        for _ in range(k):
            self._guided_step()

    @precondition(open_states)
    @rule(k=st.integers(1, 8))
    def guided_again(self, k: int) -> None:
        """The same, as a second rule: doubles the guided share of rule draws."""
        self.guided(k)

    @precondition(lambda self: open_states(self) and self.ep.state is not State.RESOLVED)
    @rule(k=st.integers(1, 4))
    def calm_then_resolve(self, k: int) -> None:
        """A run of grade-0 observations over more than the resolution window, then resolve."""
        for _ in range(k + 3):
            if self.ep is None or self.ep.state in (State.RESOLVED, State.CLOSED):
                return
            self._calm_step()

    @precondition(open_states)
    @rule(k=st.integers(1, 4), gap=st.sampled_from(["interval", "interval", "interval+0.01", "24h", "interval-0.01",
                                                    "none"]), reason=S.MAYBE_REASON)
    def toci_course(self, k: int, gap: str, reason: str | None) -> None:
        """k tocilizumab doses, each `gap` after the previous (toward the interval and count limits)."""
        for _ in range(k):
            ep = self.ep
            assert ep is not None
            if ep.is_closed:
                return
            if ep.toci_doses:
                hours = {"interval": 0.0, "interval+0.01": 0.01, "24h": 24.0 - ep.policy.toci_min_interval_h,
                         "interval-0.01": -0.01, "none": -ep.policy.toci_min_interval_h}[gap]
                self._jump_to(ep.toci_doses[-1].at + timedelta(hours=ep.policy.toci_min_interval_h + hours))
            if ep.crs is None or ep.crs.grade < 2:
                self._observe(3)
            self._give(Drug.TOCILIZUMAB, min(toci_dose_mg(ep.weight_kg, ep.policy),
                                             floor_01(safety.toci_limit_mg(ep.weight_kg))), reason)

    @precondition(open_states)
    @rule(drug=S.DRUGS, probe=st.sampled_from(["ceiling", "above", "exact", "wrong_route", "day_total"]),
          reason=S.MAYBE_REASON)
    def probe_limit(self, drug: Drug, probe: str, reason: str | None) -> None:
        """A dose right at, or just past, a hard limit (or by a route the drug is never given by),
        at a valid time, usually with an override: only the hard rule can stop it."""
        ep = self.ep
        assert ep is not None
        ceiling = S.exact_ceiling_mg(drug, ep.weight_kg)
        route = None
        if probe == "ceiling":
            dose = floor_01(ceiling)
        elif probe == "above":
            dose = floor_01(ceiling) + 0.1
        elif probe == "exact":
            dose = round(ceiling, 1)  # the core's own rounding of the ceiling (regression R1)
        elif probe == "wrong_route":
            dose = floor_01(ceiling) / 2
            route = next(r for r in Route if r.value not in safety.ROUTES[drug.value])
        else:  # day_total: the same dose again now, toward the 24 h sums
            dose = floor_01(ceiling)
            self._give(drug, dose, reason or GUIDED)
            if self.ep is None or self.ep.is_closed:
                return
        self._step(AdministerDose(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID, drug=drug,
                                  dose_mg=min(max(dose, 0.1), 10_000), route=route, override_reason=reason or GUIDED))

    def _follow(self, pick: int, steroid_only: bool = False) -> bool:
        """Give one recommended dose (an option of an alternatives step counts): it must be accepted."""
        ep = self.ep
        assert ep is not None
        gives = [(s, o) for s in status(ep, self.now)["next_steps"] if s["kind"] == "give"
                 for o in s.get("alternatives", [s]) if o["dose_mg"] is not None
                 and (not steroid_only or o["drug"] in safety.STEROIDS)]
        if not gives:
            note_lazily(lambda: "no give recommended")
            return False
        step, opt = gives[pick % len(gives)]
        event = self._step(AdministerDose(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID, drug=opt["drug"],
                                          dose_mg=opt["dose_mg"], route=opt["route"]))
        assert event is not None, f"RECOMMEND: following {step['rule']} ({opt['drug']} {opt['dose_mg']}) was refused"
        return True

    @precondition(open_states)
    @rule(pick=st.integers(0, 7))
    def follow_recommendation(self, pick: int) -> None:
        """Give what `crs status` recommends right now: it must be accepted."""
        self._follow(pick)

    @precondition(lambda self: open_states(self) and self.ep.state is not State.RESOLVED)
    @rule(grades=st.lists(st.sampled_from([1, 2, 2, 3, 3, 4, 4, 0]), min_size=1, max_size=4),
          crs=st.sampled_from(["normal", "normal", "absent"]), pick=st.integers(0, 3),
          follow=st.sampled_from([True, True, False]))
    def icans_only_course(self, grades: list[int], crs: str, pick: int, follow: bool) -> None:
        """ICANS without CRS (afebrile on room air, or CRS not recorded at all), by CAPD for a child: observe,
        follow the recommended steroid, wait the ICANS reassessment interval, again. Without `follow`, one
        observation only (the invariants then judge the untreated ICANS-only episode)."""
        for grade in grades:
            ep = self.ep
            if ep is None or ep.is_closed or ep.state is State.RESOLVED:
                return
            self._observe(0 if crs == "normal" else None, grade)
            if not follow:
                return
            self._follow(pick, steroid_only=True)
            self._jump(ep.policy.reassess_h_icans)

    @precondition(lambda self: open_states(self) and self.ep.state is not State.RESOLVED)
    @rule(gap=st.sampled_from(["consciousness", "screen", "consciousness", "screen", "crs", "icans", "empty"]),
          then=st.sampled_from(["resolve at once", "resolve half a window on", "resolve a window on", "go on"]))
    def break_the_streak(self, gap: str, then: str) -> None:
        """A fully assessed zero streak longer than the resolution window, interrupted by an observation
        that is not fully assessed (grades 0 where graded), then resolve without an override: the streak
        must break, so the resolve must be refused until a new one has held for a whole window."""
        ep = self.ep
        assert ep is not None
        window = ep.policy.resolution_window_h
        if ep.zero_streak_since is None or ep.latest is None or not ep.latest.fully_assessed_zero:
            self._observe(0)
            self._jump(window + 0.5)
        full = S.graded_observation(0, 0, self.child).model_dump(exclude_defaults=True)
        drop = {"crs": ("temp_c",), "icans": ("ice_score", "capd_score", "consciousness"), "empty": tuple(full),
                "consciousness": ("consciousness",), "screen": ("ice_score", "capd_score")}[gap]
        obs = Observation(**{k: v for k, v in full.items() if k not in drop})
        self._step(RecordObservation(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID, observation=obs))
        if self.ep is None or self.ep.is_closed or then == "go on":
            return
        if then == "resolve half a window on":
            self._jump(window / 2)
            self._observe(0)
            self._jump(window / 2 + 0.01)
        elif then == "resolve a window on":
            self._jump(window + 0.01)
        self._step(Resolve(at=self._ready_at, actor=ACTOR, episode_id=EPISODE_ID))
