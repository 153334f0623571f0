"""FHIR R4 rendering of an episode (`crs export`) and reading of bedside vital signs (`crs import`).

Like the QA report (cli/report/), the FHIR Bundle is a rendering of the stored history, never a second
record: `export` reads `Store.history` and `Store.refusals`; `import` turns Observations into the same
`observe` steps `crs observe` takes, through the same service. The code tables are in `codes.py`.
"""
