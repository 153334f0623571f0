"""Episode ids: short enough to type and read aloud, random (never derived from patient data).

`E` + 5 Crockford base-32 characters (no I, L, O, U, so nothing reads as a word or a digit
look-alike): about 33 million ids; the unit of work retries on the rare collision.
"""

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "E"
LENGTH = 5
_LOOKALIKE = str.maketrans({"O": "0", "I": "1", "L": "1"})  # Crockford decoding


def random_episode_id(length: int = LENGTH) -> str:
    import secrets  # only `open` makes an id: every other step would pay for secrets' imports

    return PREFIX + "".join(secrets.choice(CROCKFORD) for _ in range(length))


def normalise_episode_id(typed: str) -> str:
    """What a person typed -> the id as stored: case-insensitive, O/I/L read as 0/1/1."""
    text = typed.strip().upper()
    if not text.startswith(PREFIX):
        return text
    return PREFIX + text[1:].replace("-", "").translate(_LOOKALIKE)
