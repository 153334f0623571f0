"""The source keys every rule and recommendation cites (CLINICAL.md, Sources)."""

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
    "SEED-000": "Clinical answer 000: post-haplo HSCT, dyskeratosis congenita, grade 3 CRS (shared/seeds).",
    "SEED-001": "Clinical answer 001: persistent CRS with oxygen need (shared/seeds).",
    "CONTRACT": "The crs command-line contract (shared/CONTRACT.md): time and episode rules.",
}
