#!/usr/bin/env bash
# The lowest-versions environment (issue 13): a second virtualenv, .venv-lowest, with every dependency of
# pyproject.toml (and of its `dev` extra) at its declared lower bound, and the tests that exercise them.
#
# The pins come from pyproject.toml (scripts/lowest_pins.py: `name>=X` becomes `name==X`; psycopg[binary]
# also pins psycopg-binary) and go in as a constraints file, so pip resolves everything else (the
# dependencies' own dependencies) as usual. The environment is made anew on every run, so nothing from an
# earlier run is tested by mistake. `pip freeze` is printed for the record. Exits non-zero when the
# install or any test fails. `make test-lowest` runs it; .ci/run runs it after `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv-lowest
BIN="$VENV/bin"
#: What runs in the lowest environment: the CLI tests, which drive every dependency through `crs` (see README),
#: on both cores (pytest-xdist, from the dev extra; LOWEST_JOBS=0 runs them in one process).
LOWEST_TESTS=(tests/cli tests/unit/test_packaging.py)
LOWEST_JOBS="${LOWEST_JOBS:-2}"
start=$(date +%s)

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$PYTHON" scripts/lowest_pins.py dev > "$VENV/constraints.txt"
echo "== lowest-versions: the declared lower bounds (pyproject.toml), as pins"
cat "$VENV/constraints.txt"

# --quiet: no progress lines (warnings and errors still show).
"$BIN/python" -m pip install --quiet --constraint "$VENV/constraints.txt" -e '.[dev]'
# The resolver may not pick a version other than the pin, but check what was installed all the same.
"$BIN/python" - "$VENV/constraints.txt" <<'PY'
import importlib.metadata as md, re, sys

wrong = []
for line in open(sys.argv[1]):
    name, _, wanted = line.strip().partition("==")
    have = md.version(name)
    # "2.6" and "2.6.0" are the same version: compare release numbers padded with zeros.
    pad = lambda v: [int(p) for p in re.findall(r"\d+", v)] + [0] * 4
    if pad(have)[:4] != pad(wanted)[:4]:
        wrong.append(f"{name} {have} (pinned {wanted})")
if wrong:
    sys.exit("error: installed versions differ from the lower bounds: " + ", ".join(wrong))
PY
echo "== lowest-versions: pip freeze"
"$BIN/python" -m pip freeze --exclude-editable

echo "== lowest-versions: environment made in $(( $(date +%s) - start )) s"

# As `make test` does in CI: the PostgreSQL tests must run, Hypothesis derandomized.
if [ -n "${CI:-}" ]; then
    export CRS_REQUIRE_POSTGRES=1 HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"
fi
echo "== lowest-versions: tests"
# Last, so that pytest's summary closes the output; exec keeps its exit status.
exec "$BIN/python" -m pytest -p no:cacheprovider -q -n "$LOWEST_JOBS" "${LOWEST_TESTS[@]}"
