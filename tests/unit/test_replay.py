"""pathway.replay: every event re-decided from the events before it, and the whole history folded
in the same pass (audit verify uses that fold for the snapshot check instead of folding twice)."""

from pathway.commands import Close, RecordAction, Resolve
from pathway.episode import fold
from pathway.events import Event
from pathway.replay import command_of, replay, replay_problems
from tests.scenarios.driver import Driver, t

GRADE2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3}


def every_kind() -> Driver:
    """One history with every event kind, overrides on a dose and on resolve, a note and a reason."""
    d = Driver()
    d.open(t(0), patient_ref="P-REPLAY", weight_kg=70, age_years=61, context="day 3 after CAR-T, ünïcode")
    d.observe(t(1), **GRADE2)
    d.give(t(2), "tocilizumab", 560)
    d.step(RecordAction(at=t(2.5), actor=d.actor, episode_id="E0001", action="labs", note="CRP sent — urgent"))
    d.give(t(3), "dexamethasone", 10, override="consultant's decision")  # no steroid indication yet
    d.observe(t(4), temp_c=36.8, ice_score=10, consciousness="awake")
    d.step(Resolve(at=t(5), actor=d.actor, episode_id="E0001", override_reason="discharged to ward"))
    d.step(Close(at=t(6), actor=d.actor, episode_id="E0001", reason="follow-up in clinic"))
    return d


def edited(events: list[Event], index: int, **update: object) -> list[Event]:
    changed = list(events)
    changed[index] = changed[index].model_copy(update=update)
    return changed


def test_a_true_history_replays_and_folds_to_the_live_episode() -> None:
    d = every_kind()
    assert {e.kind for e in d.events} == {"open", "observe", "give", "act", "resolve", "close"}
    assert sum(e.override is not None for e in d.events) == 2
    result = replay(d.events)
    assert result.problems == [] and result.unfolded_at is None
    assert result.episode == d.episode == fold(d.events)
    assert replay_problems(d.events) == []


def test_each_command_is_the_one_that_made_its_event() -> None:
    d = every_kind()
    for event in d.events[1:]:
        command = command_of(event)
        assert command.kind == event.kind and command.at == event.at and command.actor == event.actor
    assert command_of(d.events[6]).override_reason == "discharged to ward"  # type: ignore[union-attr]


def test_an_edited_grade_is_named_and_the_fold_still_covers_every_event() -> None:
    d = every_kind()
    events = edited(d.events, 1, data={**d.events[1].data, "crs_grade": 1})
    result = replay(events)
    assert result.problems == [(2, "replay differs in data")]
    assert result.episode == fold(events)  # the snapshot check sees the fold of what is stored
    assert result.episode is not None and result.episode.version == len(events)


def test_only_the_first_problem_is_named() -> None:
    d = every_kind()
    events = edited(edited(d.events, 2, to_state="refractory"), 5, to_state="refractory")
    assert replay_problems(events) == [(3, "replay differs in to_state")]


def test_a_dose_the_pathway_refuses_is_named_with_its_rule() -> None:
    d = every_kind()
    events = edited(d.events, 2, data={**d.events[2].data, "dose_mg": 5000.0})
    assert replay_problems(events) == [(3, "the pathway refuses this step on replay (TOCI_DOSE_MAX)")]


def test_a_command_the_edge_would_reject_cannot_be_replayed_and_quotes_nothing() -> None:
    """A negative dose never passes command validation: the replay must not build it unvalidated."""
    d = every_kind()
    events = edited(d.events, 2, data={**d.events[2].data, "dose_mg": -5.0})
    assert replay_problems(events) == [(3, "the event cannot be replayed (ValidationError)")]
    events = edited(d.events, 0, data={**d.events[0].data, "patient_ref": "Jane Doe"})  # not a pseudonym
    (problem,) = replay_problems(events)
    assert problem == (1, "the event cannot be replayed (ValidationError)") and "Jane" not in problem[1]


def test_a_gap_in_seq_is_named() -> None:
    d = every_kind()
    assert replay_problems(d.events[:3] + d.events[4:]) == [(5, "expected seq 4")]


def test_without_redeciding_it_only_folds() -> None:
    d = every_kind()
    events = edited(d.events, 2, data={**d.events[2].data, "dose_mg": 5000.0})
    result = replay(events, redeciding=False)
    assert result.problems == [] and result.episode == fold(events)


def test_events_that_do_not_fold_are_reported_not_raised() -> None:
    d = every_kind()
    result = replay(d.events[1:])  # no open
    assert result.unfolded_at == 2 and result.episode is None
    assert replay_problems(d.events[1:]) == [(2, "expected seq 1")]
    assert replay([]).episode is None and replay_problems([]) == []
    twice_opened = d.events[:1] + [d.events[0].model_copy(update={"seq": 2})]
    result = replay(twice_opened, redeciding=False)
    assert result.unfolded_at == 2
    assert replay_problems(twice_opened) == [(2, "replay differs in seq")]  # found before the fold fails
