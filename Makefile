# crs-pathway: `make demo` and `make test` are the two commands a newcomer needs (README.md).
# In CI (CI set), the PostgreSQL tests must run and Hypothesis uses its derandomised `ci` profile.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-lowest postgres bench mutation fuzz pathway-doc fhir-example clean

venv: $(STAMP)

# Re-install when pyproject.toml changes; the stamp makes repeated runs instant.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/crs demo

# PostgreSQL server binaries (initdb, postgres) for the PostgreSQL half of the suite.
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries: found"; \
	elif [ -n "$$CI" ]; then \
		bash scripts/install-postgres.sh; \
	else \
		bash scripts/install-postgres.sh || echo "warning: PostgreSQL binaries could not be installed; its tests will be skipped"; \
	fi

test: venv postgres
	@if [ -n "$$CI" ]; then \
		export CRS_REQUIRE_POSTGRES=1 HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci}; \
	fi; \
	$(BIN)/python -m pytest

# The second environment (issue 13): .venv-lowest with every dependency at its declared lower bound
# (pyproject.toml), made anew, then the CLI tests in it. CI runs it after `make test`.
test-lowest: postgres
	PYTHON=$(PYTHON) bash scripts/lowest-versions.sh

# The benchmarks (bench/RESULTS.md); the `bench` extra brings the step benchmark's peer, sqlite-utils.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

# Mutation testing of pathway/ and states/ (docs/SAFETY.md): mutmut, both cores, the fast test subset of
# [tool.mutmut] in pyproject.toml under the derandomized `mutation` Hypothesis profile; then
# docs/mutation-report.md. Fails when the score is under 90% or a survivor is not argued. Not part of `make test`.
MUTATION_STAMP := $(VENV)/.installed-mutation
$(MUTATION_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,mutation]'
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	rm -rf mutants
	start=$$(date +%s); \
	HYPOTHESIS_PROFILE=mutation $(BIN)/mutmut run --max-children $${MUTATION_JOBS:-2} > mutants.log 2>&1 \
		|| { tr '\r' '\n' < mutants.log | tail -n 40; exit 1; }; \
	$(BIN)/python scripts/mutation_report.py --seconds $$(( $$(date +%s) - start ))

# The fuzzing budget (docs/SAFETY.md): the property suite alone in the `ci` profile (what CI runs), with what it
# reached (examples, states, children, ICANS-only, partial observations, corrections, late entries, the
# exhaustive check) and its wall time, written to bench/results/fuzz-budget.md.
fuzz: venv
	CRS_FUZZ_REPORT=bench/results/fuzz-budget.md HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -p no:cacheprovider -q tests/properties
	@cat bench/results/fuzz-budget.md

# The frozen pathway `crs pathway` prints (pathway/described.py); tests/unit/test_describe.py says when it is stale.
pathway-doc: venv
	$(BIN)/python -m cli.pathway_doc

# The seed-000 episode exported as FHIR R4 (docs/fhir-example-seed-000.json); tests/cli/test_fhir_export.py says
# when it is stale.
fhir-example: venv
	$(BIN)/python -m cli.fhir

clean:
	rm -rf $(VENV) .venv-lowest build dist *.egg-info .pytest_cache .hypothesis bench/results mutants mutants.log
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
