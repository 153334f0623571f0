"""Commands: what a care team asks the pathway to do. Validated at the edge, immutable after.

Every command carries its clinical time `at` (aware UTC) and the `actor` who asks. A command
that changes an episode becomes exactly one event, or is refused.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from pathway.clock import as_utc
from pathway.drugs import Action, Drug, Route
from pathway.model import Frozen
from pathway.observations import Observation
from pathway.policy import DEFAULT_POLICY, Policy

#: The smallest dose the pathway records; below it a dose is a typo (1e-300 mg is not dexamethasone).
MIN_DOSE_MG = 0.1

UtcTime = Annotated[datetime, AfterValidator(as_utc)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
#: A pseudonymous reference: letters, digits and - _ . : / only, so no free-text names slip in.
PatientRef = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
]


class _Command(Frozen):
    model_config = ConfigDict(extra="forbid")

    at: UtcTime
    actor: Name


class _Step(_Command):
    episode_id: Name


class OpenEpisode(_Command):
    kind: Literal["open"] = "open"
    patient_ref: PatientRef
    weight_kg: float = Field(ge=0.5, le=350)
    age_years: float = Field(ge=0, le=120)
    context: Text | None = None
    policy: Policy = DEFAULT_POLICY


class _Entry(_Step):
    """An observe, give or act: the steps that may be recorded late (`late`: why it is charted after the
    fact) and whose recheck of later events may need an override."""

    #: A late entry (CLINICAL §10): a clinical time before the episode's latest event, and why.
    late: Text | None = None
    override_reason: Text | None = None


class RecordObservation(_Entry):
    kind: Literal["observe"] = "observe"
    observation: Observation
    #: Free text for the record (e.g. an imported blood pressure that sets no input); stored only when given.
    note: Text | None = None


class AdministerDose(_Entry):
    kind: Literal["give"] = "give"
    drug: Drug
    #: at least 0.1 mg: a smaller figure is a typo, never therapy (HAZARDS H5)
    dose_mg: float = Field(ge=MIN_DOSE_MG, le=10_000)
    route: Route | None = None  # None: the drug's default route


class RecordAction(_Entry):
    kind: Literal["act"] = "act"
    action: Action
    note: Text | None = None


class Resolve(_Step):
    kind: Literal["resolve"] = "resolve"
    override_reason: Text | None = None


class Close(_Step):
    kind: Literal["close"] = "close"
    reason: Text | None = None


class Correct(_Step):
    """Supersede event `target_seq` (an observe, give or act) with corrected values at its clinical time.

    `changes` are the corrected inputs (the original's fields in its own names: `dose_mg`, `temp_c`, ...),
    `unset` the recorded inputs that were not in fact taken; every other input stays as recorded. The
    pathway merges them with the target inside the step (pathway/history.py). `at` is the target's time.
    """

    kind: Literal["correct"] = "correct"
    target_seq: int = Field(ge=1)
    reason: Text
    changes: dict[str, Any] = Field(default_factory=dict)
    unset: tuple[str, ...] = ()
    override_reason: Text | None = None


class Void(_Step):
    """Mark event `target_seq` as entered in error: it stays in the chain and leaves the effective history."""

    kind: Literal["void"] = "void"
    target_seq: int = Field(ge=1)
    reason: Text
    override_reason: Text | None = None


EntryCommand = RecordObservation | AdministerDose | RecordAction
StepCommand = RecordObservation | AdministerDose | RecordAction | Resolve | Close
RecordCommand = Correct | Void
Command = OpenEpisode | StepCommand | RecordCommand
