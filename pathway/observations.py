"""A bedside observation, validated at the edge, with units in every name."""

from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from pathway.model import Frozen


class O2Device(StrEnum):
    ROOM_AIR = "room-air"
    NASAL_CANNULA = "nasal-cannula"
    BLOW_BY = "blow-by"
    HFNC = "hfnc"
    FACEMASK = "facemask"
    NON_REBREATHER = "non-rebreather"
    VENTURI = "venturi"
    CPAP = "cpap"
    BIPAP = "bipap"
    VENTILATOR = "ventilator"


class Consciousness(StrEnum):
    AWAKE = "awake"
    VOICE = "voice"
    TOUCH = "touch"
    UNAROUSABLE = "unarousable"


class Seizure(StrEnum):
    NONE = "none"
    BRIEF = "brief"
    PROLONGED = "prolonged"


class CerebralEdema(StrEnum):
    NONE = "none"
    FOCAL = "focal"
    DIFFUSE = "diffuse"


class Observation(Frozen):
    """One bedside assessment. Absent fields were not assessed (None), never assumed normal."""

    model_config = ConfigDict(extra="forbid")

    temp_c: float | None = Field(default=None, ge=30, le=45, description="temperature, °C")
    hypotension: bool = Field(default=False, description="hypotension not needing vasopressors")
    vasopressors: int = Field(default=0, ge=0, le=6, description="vasopressors running, vasopressin not counted")
    vasopressin: bool = Field(default=False, description="vasopressin running")
    o2_device: O2Device | None = Field(default=None, description="oxygen device")
    o2_flow_lpm: float | None = Field(default=None, ge=0, le=80, description="oxygen flow, L/min")
    fio2: float | None = Field(default=None, ge=0.21, le=1.0, description="inspired O2 fraction")
    ice_score: int | None = Field(default=None, ge=0, le=10, description="ICE score (ICANS)")
    consciousness: Consciousness | None = None
    seizure: Seizure | None = None
    motor_weakness: bool = Field(default=False, description="deep focal motor weakness")
    cerebral_edema: CerebralEdema | None = None
    capd_score: int | None = Field(default=None, ge=0, le=32, description="CAPD total (children, ICANS)")
    capd_unable: bool = Field(default=False, description="unable to perform the CAPD (grade 4 domain)")

    @model_validator(mode="after")
    def _consistent(self) -> "Observation":
        problem = inconsistency(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def capd_recorded(self) -> bool:
        return self.capd_score is not None or self.capd_unable

    def inputs(self) -> dict[str, object]:
        """The inputs that were actually recorded (for the basis of a grade)."""
        return self.model_dump(mode="json", exclude_defaults=True)


def inconsistency(obs: Observation) -> str | None:
    """Why these inputs cannot all be true of one bedside observation, or None. A module function, not the
    validator's body, so that mutation testing reaches it (mutmut skips decorated functions)."""
    if obs.capd_unable and obs.capd_score is not None:
        return "capd is either a score or 'unable', not both"
    if obs.ice_score is not None and (obs.capd_score is not None or obs.capd_unable):
        return "record either an ICE score or a CAPD (the policy's CAPD age decides which), not both"
    if obs.o2_flow_lpm is not None and obs.o2_device in (None, O2Device.ROOM_AIR):
        return "o2_flow_lpm needs an oxygen device other than room-air"
    if obs.fio2 is not None and obs.fio2 > 0.21 and obs.o2_device in (None, O2Device.ROOM_AIR):
        return "fio2 above 0.21 needs an oxygen device other than room-air"
    return None
