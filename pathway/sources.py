"""The source keys every rule and recommendation cites: published guidelines only.

The clinical answers this project was born from are test provenance (tests/scenarios), never a
source shown to a clinician (HAZARDS H14)."""

SOURCES: dict[str, str] = {
    "ASTCT-2019": "Lee DW et al. ASTCT consensus grading for CRS and neurologic toxicity. "
                  "Biol Blood Marrow Transplant 2019;25:625–638.",
    "CARTOX-2018": "Neelapu SS et al. Chimeric antigen receptor T-cell therapy — assessment and management of "
                   "toxicities. Nat Rev Clin Oncol 2018;15:47–62.",
    "ASCO-2021": "Santomasso BD et al. Management of immune-related adverse events in patients treated with CAR "
                 "T-cell therapy: ASCO guideline. J Clin Oncol 2021;39:3978–3992.",
    "NCCN-2026": "NCCN Guidelines, Management of Immunotherapy-Related Toxicities: CAR T-cell-related "
                 "toxicities, v2.2026.",
    "LABEL-TOCI": "Tocilizumab (Actemra) and tisagenlecleucel (Kymriah, 2017) US prescribing information, CRS "
                  "dosing; Le RQ et al. FDA approval summary, Oncologist 2018;23:943–947.",
    "ANAK-PED": "Shah NN et al. Blood Adv 2022;6:3398, Table 1.",
    "NCI-2016": "Brudno JN, Kochenderfer JN. Toxicities of chimeric antigen receptor T cells: recognition and "
                "management. Blood 2016;127:3321–3330.",
    "PALISI-2019": "Mahadeo KM et al. Management guidelines for paediatric patients receiving CAR T cell therapy. "
                   "Nat Rev Clin Oncol 2019;16:45–63.",
    "TRAUBE-2014": "Traube C et al. Cornell Assessment of Pediatric Delirium. Crit Care Med 2014;42:656–663.",
    "CFR-11": "US 21 CFR Part 11, §11.10(e): audit trails that record changes without obscuring what was "
              "recorded before.",
    "FHIR-R4": "HL7 FHIR Release 4 (4.0.1): the entered-in-error status of clinical resources.",
    "CONTRACT": "The crs command contract (README, 'Time' and 'Exit codes'): time and episode rules.",
}
