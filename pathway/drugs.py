"""The drugs the pathway knows, their class and allowed routes."""

from enum import StrEnum


class Drug(StrEnum):
    """Drug names; input is matched case-insensitively (`Dexamethasone` is dexamethasone)."""

    TOCILIZUMAB = "tocilizumab"
    DEXAMETHASONE = "dexamethasone"
    METHYLPREDNISOLONE = "methylprednisolone"
    ANAKINRA = "anakinra"
    SILTUXIMAB = "siltuximab"
    RUXOLITINIB = "ruxolitinib"
    CYCLOPHOSPHAMIDE = "cyclophosphamide"

    @classmethod
    def _missing_(cls, value: object) -> "Drug | None":
        if isinstance(value, str):
            folded = value.strip().lower()
            return next((d for d in cls if d.value == folded), None)
        return None


class Route(StrEnum):
    IV = "iv"
    SC = "sc"
    PO = "po"


class Action(StrEnum):
    ICU_TRANSFER = "icu-transfer"
    INFECTION_WORKUP = "infection-workup"
    ANTIBIOTICS = "antibiotics"
    ANTIFUNGAL_PROPHYLAXIS = "antifungal-prophylaxis"
    TELEMETRY = "telemetry"
    LABS = "labs"
    ECHOCARDIOGRAM = "echocardiogram"
    FLUID_BOLUS = "fluid-bolus"
    ASPIRATION_PRECAUTIONS = "aspiration-precautions"
    NEUROLOGY_CONSULT = "neurology-consult"
    NEUROIMAGING = "neuroimaging"
    EEG = "eeg"
    ANTISEIZURE = "antiseizure"


STEROIDS = frozenset({Drug.DEXAMETHASONE, Drug.METHYLPREDNISOLONE})
REFRACTORY_DRUGS = frozenset({Drug.ANAKINRA, Drug.SILTUXIMAB, Drug.RUXOLITINIB, Drug.CYCLOPHOSPHAMIDE})
#: Therapies after which fever is no longer required to grade CRS (CLINICAL.md §1).
FEVER_MASKING = frozenset({Drug.TOCILIZUMAB}) | STEROIDS

DEFAULT_ROUTE: dict[Drug, Route] = {
    Drug.TOCILIZUMAB: Route.IV,
    Drug.DEXAMETHASONE: Route.IV,
    Drug.METHYLPREDNISOLONE: Route.IV,
    Drug.ANAKINRA: Route.IV,
    Drug.SILTUXIMAB: Route.IV,
    Drug.RUXOLITINIB: Route.PO,
    Drug.CYCLOPHOSPHAMIDE: Route.IV,
}

ALLOWED_ROUTES: dict[Drug, frozenset[Route]] = {
    Drug.TOCILIZUMAB: frozenset({Route.IV}),
    Drug.DEXAMETHASONE: frozenset({Route.IV, Route.PO}),
    Drug.METHYLPREDNISOLONE: frozenset({Route.IV}),
    Drug.ANAKINRA: frozenset({Route.IV, Route.SC}),
    Drug.SILTUXIMAB: frozenset({Route.IV}),
    Drug.RUXOLITINIB: frozenset({Route.PO}),
    Drug.CYCLOPHOSPHAMIDE: frozenset({Route.IV}),
}
