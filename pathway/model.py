"""The one base of the pathway's pydantic models: frozen values, validators built on first use.

Frozen: the pathway is a fold of immutable events; nothing may change an episode, an event or a
command after it was validated. `defer_build`: pydantic builds a model's validator when the class is
defined unless told to wait, and every `crs` command is a fresh process that uses a few of the
pathway's models (a step: its command, the observation, the episode, the event); building all of
them at import was about a quarter of the project's own start-up (issue 13, `python -X importtime`).
Deferred, each is built the first time it validates or dumps, with the same result.
"""

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Immutable, built on first use; a subclass's own `model_config` adds to this one."""

    model_config = ConfigDict(defer_build=True, frozen=True)
