"""Rules for corrections, voids and late entries (issue 10), mixed into the stateful machines.

Each rule builds one `Correct`, `Void` or late `RecordObservation` / `AdministerDose` / `RecordAction`
and hands it to EpisodeDriver._change (pathway.history.decide_change with the machine's own events).
They aim at the cases where a change could open a way around a hard limit (HAZARDS H4, H20):

- correct: a recorded dose corrected to x10 (the 56 -> 560 typo), /10, exactly its ceiling, a hair
  above, the ceiling as the core rounds it, 900 mg, any dose, another drug (with or without a route),
  another route, or to the same dose (nothing changes: invalid); an observation corrected (values
  replaced, merged, some unset, the temperature, the screen score across a grading edge, any subset,
  the wrong ICANS screen); an action; or an
  invalid target (the open event, a seq that does not exist, a correction or void event, an entry
  already superseded or voided, a resolve);
- void: the only tocilizumab dose, the dose that opened the current state, the resolve, the latest
  entry, any entry, or an invalid target;
- late: a dose (tocilizumab 2 h, 7.99 h, 8 h, 8.01 h, 12 h before a recorded dose or 0.5 h / 2 h
  after one, inside the 8 h window; any drug at any earlier time), an observation (any grade, any
  subset of fields) or an action: before a resolve, before the latest event, anywhere since the
  opening, before the opening (TIME_ORDER), at the latest event's time (not late: invalid);
- acceptance_case, late: the acceptance case of issue 10: a tocilizumab dose recorded (if none
  stands: CRS grade 3 observed, the dose given 3 h later), then one charted late 2 h (or 0.5 h, 7.99 h,
  exactly 8 h) before it: inside
  the 8 h window it must be refused (TOCI_MIN_INTERVAL, breaks_seq the recorded dose), override or not;
- acceptance_case, typo: the H4 case end to end: 56 mg recorded for 560, the real dose refused by the
  8 h interval, the typo corrected (or corrected to 900 mg: TOCI_DOSE_MAX, even with an override),
  and the next dose given at its real interval.
Every rule draws an override reason or none, and a clock time for the command (`at` of a correction
or void is ignored: it takes the target's time); arguments are drawn (st.data) only as the case
needs them, which keeps a step cheap. What each change must do is predicted in
effective.py and judged by the invariants in episode_machine.py.
"""

from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from pathway.commands import AdministerDose, Correct, RecordAction, RecordObservation, Void
from pathway.dosing import toci_dose_mg
from pathway.drugs import Drug
from states import State
from tests.properties import effective as E, reach, safety, strategies as S
from tests.properties.driving import ACTOR, EPISODE_ID, EpisodeDriver, floor_01, open_states

PICK = st.integers(0, 1_000)
CHANGE_REASONS = st.sampled_from(["typo", "wrong patient", "entered in error", "56 typed for 560", "  padded  "])
LATE_REASONS = st.sampled_from(["charted after the fact", "given at 14:00, charted at 16:30", "x"])
DOSE_FIXES = st.sampled_from(["x10", "x10", "/10", "ceiling", "above", "exact", "900", "recipe", "drug", "drug",
                              "route", "same"])
OBS_FIXES = st.sampled_from(["replace", "replace", "merge", "unset", "temp", "screen"])
#: Screen scores at the grading edges (CLINICAL §2, §2b): CAPD 0 | 1-8 | >= 9, ICE 10 | 7-9 | 3-6 | 0-2.
CAPD_EDGES, ICE_EDGES = [0, 1, 8, 9, 32], [10, 9, 7, 6, 3, 2, 0]
BAD_TARGETS = ["open", "missing", "far", "change", "superseded", "voided", "resolve"]
VOID_CHOICES = st.sampled_from(["only toci", "only toci", "opening dose", "opening dose", "resolve", "latest", "any",
                                "any", "bad"])
HOURS_FROM_TOCI = [-2.0, -2.0, -7.99, -8.0, -8.01, -12.0, 0.5, 2.0, 2.0, 8.0]
_EDGES = st.sampled_from([("before_open", 1.0), ("at_last", 0.0)])  # TIME_ORDER, and not late (invalid)
_BEFORE_LAST = st.tuples(st.just("before_last"), st.sampled_from([1 / 60, 1.0, 30.0, 120.0, 600.0]))
_BETWEEN = st.tuples(st.just("between"), st.floats(0.01, 0.99))
_FROM_TOCI = st.tuples(st.just("toci"), st.sampled_from(HOURS_FROM_TOCI))
_BEFORE_RESOLVE = st.tuples(st.just("before_resolve"), st.sampled_from([0.25, 1.0, 6.0, 23.0]))
LATE_DOSE_WHEN = st.one_of(_FROM_TOCI, _FROM_TOCI, _FROM_TOCI, _BEFORE_LAST, _BETWEEN, _EDGES)
LATE_WHEN = st.one_of(_BEFORE_RESOLVE, _BEFORE_RESOLVE, _BEFORE_RESOLVE, _BEFORE_LAST, _BETWEEN, _EDGES)
LATE_DRUGS = st.sampled_from([Drug.TOCILIZUMAB] * 5 + list(Drug))
TOCI = Drug.TOCILIZUMAB


def has_history(self: EpisodeDriver) -> bool:
    return open_states(self) and self.ep is not None and self.ep.version > 1


def open_and_unresolved(self: EpisodeDriver) -> bool:
    return open_states(self) and self.ep is not None and self.ep.state is not State.RESOLVED


class CorrectionRules(EpisodeDriver):
    """Corrections, voids and late entries, each decided by decide_change(). Mixed in before a machine of
    episode_machine.py (CorrectedDefaultPolicyEpisodes, ...), so the machines the teeth and regression
    tests of earlier issues run keep exactly their rules, and so their examples."""

    def _standing(self, *kinds: str) -> list[E.Entry]:
        """The entries that stand now, in clinical-time order (kinds: only those)."""
        return [e for e in self.record().standing() if not kinds or e.command.kind in kinds]

    def _bad_target(self, bad: str, pick: int, verb: str) -> tuple[int, str]:
        """A seq that is not a valid target (CORRECTION_TARGET), and what it is."""
        record = self.record()
        by_kind = {k: [s for s, kind in record.kinds.items() if kind == k] for k in ("correct", "void", "resolve")}
        options = {
            "open": [1],
            "missing": [record.head + 1],
            "far": [record.head + 1 + pick % 50],
            "change": by_kind["correct"] + by_kind["void"],
            "superseded": sorted(record.superseded_by),
            "voided": sorted(record.voided_by),
            "resolve": [s for s in by_kind["resolve"] if s in record.entries] if verb == "correct" else [],
        }
        seqs = options[bad] or options["missing"]
        name = bad if options[bad] else "missing"
        return seqs[pick % len(seqs)], f"invalid target: {name}"

    @precondition(lambda self: self.ep is not None and self.ep.is_closed and self.pokes < 2)
    @rule(kind=st.sampled_from(["correct", "void", "late"]), drug=S.DRUGS, reason=S.MAYBE_REASON,
          pick=st.integers(1, 40))
    def poke_closed_with_a_change(self, kind: str, drug: Drug, reason: str | None, pick: int) -> None:
        """A correction, void or late entry on a closed episode (EPISODE_CLOSED)."""
        ep = self.ep
        assert ep is not None
        self.pokes += 1
        common = {"at": self._ready_at, "actor": ACTOR, "episode_id": EPISODE_ID}
        seq = 1 + pick % len(self.events)
        change: E.ChangeCommand
        if kind == "correct":
            change = Correct(**common, target_seq=seq, reason="typo", changes={"dose_mg": 1.0}, override_reason=reason)
        elif kind == "void":
            change = Void(**common, target_seq=seq, reason="entered in error", override_reason=reason)
        else:
            change = AdministerDose(**{**common, "at": ep.opened_at}, drug=drug, dose_mg=1.0, late="charted late",
                                    override_reason=reason)
        self._change(change, "on a closed episode")

    # -- corrections --------------------------------------------------------------------------------
    @precondition(has_history)
    @rule(what=st.sampled_from(["dose", "dose", "dose", "observe", "observe", "act", "bad"]), data=st.data())
    def correct(self, what: str, data: st.DataObject) -> None:
        """A recorded dose, observation or action corrected, or a correction of what cannot be corrected
        (arguments drawn only as the case needs them)."""
        draw = data.draw
        reason, why = draw(S.MAYBE_REASON, "override"), draw(CHANGE_REASONS, "reason")
        pick, at = draw(PICK, "pick"), self._at(draw(S.WHEN, "at (ignored)"))
        if what == "dose" and self._standing("give"):
            seq, changes, unset, label = self._dose_fix(draw, pick)
        elif what in ("observe", "act", "dose") and self._standing("observe", "act"):
            seq, changes, unset, label = self._entry_fix(draw, pick, what)
        else:
            (seq, label), changes, unset = self._bad_target(draw(st.sampled_from(BAD_TARGETS), "target"), pick,
                                                            "correct"), {"note": "typo"}, ()
        self._change(Correct(at=at, actor=ACTOR, episode_id=EPISODE_ID, target_seq=seq, reason=why, changes=changes,
                             unset=unset, override_reason=reason), label)

    def _dose_fix(self, draw: Any, pick: int) -> tuple[int, dict[str, object], tuple[str, ...], str]:
        """A recorded dose corrected near its limits, to another drug or route, or to itself (invalid)."""
        gives = self._standing("give")
        toci = [g for g in gives if g.command.drug is TOCI]  # type: ignore[union-attr]
        target = (gives[-1] if pick % 4 == 0 else toci[pick % len(toci)] if pick % 4 == 1 and toci
                  else gives[pick % len(gives)])
        old = target.command
        assert isinstance(old, AdministerDose)
        w = self.ep.weight_kg  # type: ignore[union-attr]
        ceiling = S.exact_ceiling_mg(old.drug, w)
        fix = draw(DOSE_FIXES, "fix")
        changes: dict[str, object] = {}
        unset: tuple[str, ...] = ()
        if fix == "x10":
            changes, label = {"dose_mg": min(10_000.0, round(old.dose_mg * 10, 6))}, "dose x10 (56 -> 560 typo)"
        elif fix == "/10":
            changes, label = {"dose_mg": max(0.1, round(old.dose_mg / 10, 1))}, "dose /10"
        elif fix == "ceiling":
            changes, label = {"dose_mg": max(0.1, floor_01(ceiling))}, "dose at its ceiling"
        elif fix == "above":
            changes, label = {"dose_mg": min(10_000.0, floor_01(ceiling) + 0.1)}, "dose a hair above its ceiling"
        elif fix == "exact":
            changes, label = {"dose_mg": max(0.1, round(ceiling, 1))}, "dose at its ceiling rounded to 0.1 mg"
        elif fix == "900":
            changes, label = {"dose_mg": 900.0}, "dose 900 mg"
        elif fix == "recipe":
            changes, label = {"dose_mg": S.resolve_dose(draw(S.DOSE_RECIPES, "dose"), old.drug, w)}, "any dose"
        elif fix == "drug":
            drug = draw(S.DRUGS, "drug")
            new = drug if drug is not old.drug else next(d for d in Drug if d is not old.drug)
            changes = {"drug": new.value, "dose_mg": S.resolve_dose(draw(S.DOSE_RECIPES, "dose"), new, w)}
            route = draw(S.ROUTE_CHOICE, "route")
            if route is None:
                unset = ("route",) if pick % 2 else ()
            else:
                changes["route"] = route.value
            label = "to another drug" + (" (tocilizumab)" if new is TOCI else "")
        elif fix == "route":
            route = draw(S.ROUTE_CHOICE, "route")
            if route is None:
                unset, label = ("route",), "route back to the drug's default"
            else:
                changes, label = {"route": route.value}, "route" + (
                    " (not allowed)" if route.value not in safety.ROUTES[old.drug.value] else "")
        else:
            changes, label = {"dose_mg": old.dose_mg}, "the same dose (nothing changes)"
        return target.place, changes, unset, label

    def _entry_fix(self, draw: Any, pick: int, what: str) -> tuple[int, dict[str, object], tuple[str, ...], str]:
        """An observation corrected (replaced, merged, some fields unset, the temperature) or an action."""
        targets = self._standing("act") if what == "act" else []
        targets = targets or self._standing("observe") or self._standing("act")
        target = targets[pick % len(targets)]
        changes: dict[str, object] = {}
        unset: tuple[str, ...] = ()
        if isinstance(target.command, RecordAction):
            changes = {"action": draw(S.ACTIONS, "action").value}
            note = draw(S.NOTES, "note")
            if note:
                changes["note"] = note
            elif target.command.note:
                unset = ("note",)
            return target.place, changes, unset, "action"
        assert isinstance(target.command, RecordObservation)
        before = target.command.observation.inputs()
        fix = draw(OBS_FIXES, "fix")
        wrong = False
        if fix in ("replace", "merge"):
            recipe = draw(S.observation_recipes(), "observation")
            wrong = recipe["screen"] == "wrong"
            new = S.build_observation(recipe, self.child).inputs()
            changes = dict(new)
            if fix == "replace":
                unset = tuple(k for k in before if k not in new)
        elif fix == "unset":
            keys = sorted(before)
            unset = tuple(k for i, k in enumerate(keys) if pick >> i & 1) or tuple(keys[:1])
        elif fix == "screen":  # the score corrected across a grading edge
            if self.child:
                changes = {"capd_score": CAPD_EDGES[pick % len(CAPD_EDGES)]}
                unset = ("capd_unable",) if before.get("capd_unable") else ()
            else:
                changes = {"ice_score": ICE_EDGES[pick % len(ICE_EDGES)]}
        else:
            changes = {"temp_c": [36.8, 38.0, 39.4, 37.99][pick % 4]}
        return target.place, changes, unset, f"observation: {fix}" + (" (wrong screen)" if wrong else "")

    # -- voids --------------------------------------------------------------------------------------
    @precondition(has_history)
    @rule(which=VOID_CHOICES, data=st.data())
    def void(self, which: str, data: st.DataObject) -> None:
        """Entered in error: the dose that opened the current state (the only tocilizumab dose), and others."""
        ep = self.ep
        assert ep is not None
        draw = data.draw
        reason, why = draw(S.MAYBE_REASON, "override"), draw(CHANGE_REASONS, "reason")
        pick, at = draw(PICK, "pick"), self._at(draw(S.WHEN, "at (ignored)"))
        entries = self._standing(*E.VOIDABLE)
        target: E.Entry | None = None
        label = ""
        if which == "only toci":
            toci = [e for e in entries if isinstance(e.command, AdministerDose) and e.command.drug is TOCI]
            if toci:
                target = toci[pick % len(toci)]
                label = "the only tocilizumab dose" if len(toci) == 1 else "a tocilizumab dose"
        elif which == "opening dose":
            places = {e.seq: e.place for e in entries}
            opened = [ev for ev in self.effective if ev.kind == "give" and ev.from_state != ev.to_state]
            now_opened = [ev for ev in opened if ev.to_state == ep.state.value]
            pool = now_opened or opened
            if pool:
                target = next(e for e in entries if e.place == places[pool[-1].seq])
                label = "the dose that opened the current state" if now_opened else "a dose that opened a state"
        elif which == "resolve":
            resolves = [e for e in entries if e.command.kind == "resolve"]
            if resolves:
                target, label = resolves[-1], "the resolve"
        elif which == "latest" and entries:
            target, label = entries[-1], "the latest entry"
        if which == "bad" or not entries:
            seq, label = self._bad_target(draw(st.sampled_from(BAD_TARGETS[:-1]), "target"), pick, "void")
        else:
            if target is None:
                target = entries[pick % len(entries)]
                label = f"a {target.command.kind}"
            seq = target.place
        self._change(Void(at=at, actor=ACTOR, episode_id=EPISODE_ID, target_seq=seq, reason=why,
                          override_reason=reason), label)

    # -- late entries -------------------------------------------------------------------------------
    def _late_at(self, when: tuple[str, float], anchor_kind: str) -> tuple[datetime, str]:
        """A clinical time for a late entry, and how it relates to the record."""
        ep = self.ep
        assert ep is not None
        kind, x = when
        if kind == "toci":
            doses = [e for e in self._standing("give") if e.command.drug is TOCI]  # type: ignore[union-attr]
            if doses:
                gap = abs(x) < safety.TOCI_MIN_GAP.total_seconds() / 3600
                return doses[-1].command.at + timedelta(hours=x), (
                    f"{'inside' if gap else 'outside'} 8 h of a recorded tocilizumab dose")
            return ep.last_at - timedelta(hours=abs(x)), "before the latest event"
        if kind == "before_resolve":
            resolves = self._standing("resolve")
            if resolves:
                return resolves[-1].command.at - timedelta(hours=x), f"before a resolve ({anchor_kind})"
            return ep.last_at - timedelta(hours=x), "before the latest event"
        if kind == "before_last":
            return ep.last_at - timedelta(minutes=x), "before the latest event"
        if kind == "between":
            return ep.opened_at + (ep.last_at - ep.opened_at) * x, "between the opening and the latest event"
        if kind == "before_open":
            return ep.opened_at - timedelta(minutes=x), "before the episode opened"
        return ep.last_at, "at the latest event's time (not late)"

    @precondition(has_history)
    @rule(kind=st.sampled_from(["give", "give", "give", "observe", "observe", "act"]), data=st.data())
    def late(self, kind: str, data: st.DataObject) -> None:
        """A dose (tocilizumab inside or just outside 8 h of a recorded one, any drug), an observation (any
        grade, any fields; before a resolve too) or an action, charted late."""
        ep = self.ep
        assert ep is not None
        draw = data.draw
        reason, late = draw(S.MAYBE_REASON, "override"), draw(LATE_REASONS, "late")
        common = {"actor": ACTOR, "episode_id": EPISODE_ID, "late": late, "override_reason": reason}
        cmd: AdministerDose | RecordObservation | RecordAction
        if kind == "give":
            drug = draw(LATE_DRUGS, "drug")
            at, where = self._late_at(draw(LATE_DOSE_WHEN, "when"), "dose")
            if draw(st.booleans(), "typical dose"):
                limit = S.exact_ceiling_mg(drug, ep.weight_kg)
                dose = max(0.1, min(toci_dose_mg(ep.weight_kg, ep.policy), floor_01(limit)) if drug is TOCI
                           else floor_01(limit / 2))
            else:
                dose = S.resolve_dose(draw(S.DOSE_RECIPES, "dose"), drug, ep.weight_kg)
            cmd = AdministerDose(at=at, drug=drug, dose_mg=dose, **common)  # type: ignore[arg-type]
            label = f"{'tocilizumab' if drug is TOCI else 'other drug'} {where}"
        elif kind == "observe":
            at, where = self._late_at(draw(LATE_WHEN, "when"), "observation")
            grade = draw(st.sampled_from([None, None, 0, 0, 1, 2, 3, 4]), "grade")
            obs = (S.build_observation(draw(S.observation_recipes(), "observation"), self.child) if grade is None
                   else S.graded_observation(grade, 0, self.child))
            note = draw(st.sampled_from([None, None, "blood pressure 88/50 mm[Hg]"]), "note")
            cmd = RecordObservation(at=at, observation=obs, note=note, **common)  # type: ignore[arg-type]
            label = f"observation {'graded ' + str(grade) if grade is not None else 'of any fields'} {where}"
        else:
            at, where = self._late_at(draw(LATE_WHEN, "when"), "action")
            cmd = RecordAction(at=at, action=draw(S.ACTIONS, "action"), **common)  # type: ignore[arg-type]
            label = f"action {where}"
        self._change(cmd, label)

    # -- the acceptance cases end to end ---------------------------------------------------------------
    @precondition(open_and_unresolved)
    @rule(case=st.sampled_from(["late", "late", "typo"]), hours=st.sampled_from([2.0, 2.0, 0.5, 7.99, 8.0, 8.0]),
          fix=st.sampled_from(["real dose", "real dose", "900 mg"]), redose=st.sampled_from([True, True, False]),
          reason=S.MAYBE_REASON, late=LATE_REASONS)
    def acceptance_case(self, case: str, hours: float, fix: str, redose: bool, reason: str | None,
                        late: str) -> None:
        """Issue 10's acceptance cases, end to end in memory (one rule: each takes several steps)."""
        if case == "late":
            self._late_toci_before_a_recorded_one(hours, reason, late)
        else:
            self._toci_typo_corrected(fix, redose, reason)

    def _late_toci_before_a_recorded_one(self, hours: float, reason: str | None, late: str) -> None:
        """A tocilizumab dose charted late `hours` before a recorded one (recorded first if none stands)."""
        ep = self.ep
        assert ep is not None
        dose = max(0.1, min(toci_dose_mg(ep.weight_kg, ep.policy), floor_01(safety.toci_limit_mg(ep.weight_kg))))
        if not ep.toci_doses:  # as in the issue: CRS grade 3 observed, the dose recorded 3 h later
            self._observe(3)
            self._jump(3.0)
            if self.ep is None or self.ep.is_closed or self._give(TOCI, dose) is None:
                return
        recorded = self.ep.toci_doses[-1].at
        label = f"tocilizumab {hours:g} h before a recorded dose" + (" with an override" if reason else "")
        self._change(AdministerDose(at=recorded - timedelta(hours=hours), actor=ACTOR, episode_id=EPISODE_ID,
                                    drug=TOCI, dose_mg=dose, late=late, override_reason=reason), label)


    def _toci_typo_corrected(self, fix: str, redose: bool, reason: str | None) -> None:
        """56 mg recorded for 560 mg; the real dose refused by the 8 h interval (even with an override); the
        typo corrected (to 900 mg: refused by TOCI_DOSE_MAX, even with an override); the next dose at its
        real interval."""
        ep = self.ep
        assert ep is not None
        p, w = ep.policy, ep.weight_kg
        dose = max(0.1, min(toci_dose_mg(w, p), floor_01(safety.toci_limit_mg(w))))
        interval = timedelta(hours=p.toci_min_interval_h)
        if ep.toci_doses:
            self._jump_to(ep.toci_doses[-1].at + interval)
        if ep.crs is None or ep.crs.grade < 2:
            self._observe(3)
        if self.ep is None or self.ep.is_closed:
            return
        typo = self._give(TOCI, max(0.1, floor_01(dose / 10)))
        if typo is None or self.ep is None:
            return
        self._give(TOCI, dose)  # H4: refused by TOCI_MIN_INTERVAL, override or not
        fixed = self._change(Correct(at=self.now, actor=ACTOR, episode_id=EPISODE_ID, target_seq=typo.seq,
                                     reason="56 typed for 560",
                                     changes={"dose_mg": dose if fix == "real dose" else 900.0},
                                     override_reason=reason),
                             f"tocilizumab typo corrected to {'the real dose' if fix == 'real dose' else '900 mg'}"
                             + (" with an override" if reason else ""))
        if fixed is None or not redose or self.ep is None or self.ep.is_closed:
            return
        self._jump_to(typo.at + interval)
        if self.ep.crs is None or self.ep.crs.grade < 2:
            self._observe(3)
        again = self._give(TOCI, dose)
        self._tally(reach.CHANGE_CASES, ("correct", "the next dose at its real interval after the correction",
                                         "tried"))
        self._tally(reach.CHANGE_CASES, ("correct", "the next dose at its real interval after the correction",
                                         "accepted" if again is not None else "refused"))
