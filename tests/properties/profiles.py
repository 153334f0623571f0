"""Hypothesis profiles for the property suite, chosen with env HYPOTHESIS_PROFILE (default `dev`).

- dev:     fast feedback while editing (100 examples per state machine).
- ci:      derandomized (the same examples every run), no deadline, failing blobs printed, no
           example database; the two state machines run 1,050 examples each = 2,100 stateful examples.
- nightly: random seeds, 10,000 examples per state machine, longer episodes (~30-40 min).
- mutation: `make mutation` (docs/SAFETY.md). Derandomized, so a mutant is killed or not the same way every
           run, and few examples: mutmut runs the tests that reach a mutated function once per mutant, and
           a property's first examples kill most mutants; `examples(n)` scales a test's own count down.

A profile's `max_examples` is what any plain @given test gets; the state machines take their own
count from STATEFUL_EXAMPLES so a big stateful budget never leaks into cheap tests elsewhere.
"""

import os

from hypothesis import HealthCheck, Phase, settings

_COMMON = {
    "deadline": None,
    "stateful_step_count": 15,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}

settings.register_profile("dev", max_examples=100, **_COMMON)
settings.register_profile("ci", max_examples=200, derandomize=True, print_blob=True, database=None, **_COMMON)
settings.register_profile("mutation", max_examples=20, derandomize=True, database=None, report_multiple_bugs=False,
                          phases=[Phase.explicit, Phase.generate], **_COMMON)  # a kill needs no shrinking
settings.register_profile("nightly", max_examples=2_000, print_blob=True, **{**_COMMON, "stateful_step_count": 60})

#: Examples per state machine (two machines: default policy and random policies).
STATEFUL_EXAMPLES = {"dev": 100, "ci": 1_050, "nightly": 10_000, "mutation": 20}
#: A test's own `max_examples` under the mutation profile: at most this many.
MUTATION_EXAMPLES = 25
#: The fewest stateful examples the `ci` profile must run in total (issue 2 acceptance).
CI_MIN_STATEFUL_EXAMPLES = 2_000

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
if PROFILE not in STATEFUL_EXAMPLES:
    raise RuntimeError(f"HYPOTHESIS_PROFILE={PROFILE!r}: expected one of {sorted(STATEFUL_EXAMPLES)}")


def load() -> str:
    settings.load_profile(PROFILE)
    return PROFILE


def examples(n: int) -> int:
    """A test's own example count, cut to MUTATION_EXAMPLES under the mutation profile (else unchanged)."""
    return min(n, MUTATION_EXAMPLES) if PROFILE == "mutation" else n


def stateful_settings() -> settings:
    """The current profile, with this profile's stateful example count."""
    return settings(settings.get_profile(PROFILE), max_examples=STATEFUL_EXAMPLES[PROFILE])
