"""persistence/database.py parses URLs itself (SQLAlchemy is not imported on the step path): every URL must
mean what SQLAlchemy's own parser says it means, field for field, and render back to the same text."""

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from pathway.errors import Invalid
from persistence.database import parse_url

EXAMPLES = [
    "sqlite:///crs.db",
    "sqlite:////var/lib/crs/crs.db",
    "sqlite:///relative/folder/crs.db?mode=ro",
    "sqlite+pysqlite:////tmp/x y/crs.db",
    "postgresql+psycopg://crs@localhost/crs",
    "postgresql://alice:s%40cret%2Fx@db.example.org:6543/ward?sslmode=require&connect_timeout=3",
    "postgres://bob@[::1]:5432/crs",
    "postgresql+psycopg:///crs?host=/var/run/postgresql",
    "postgresql+psycopg://carol:@10.0.0.7/crs",
]


def _fields(url: object) -> tuple[object, ...]:
    query = getattr(url, "query")
    return (getattr(url, "username"), getattr(url, "password"), getattr(url, "host"), getattr(url, "port"),
            getattr(url, "database"), dict(query))


@pytest.mark.parametrize("text", EXAMPLES)
def test_examples_mean_what_sqlalchemy_says(text: str) -> None:
    ours, theirs = parse_url(text), make_url(text)
    assert _fields(ours) == _fields(theirs)
    assert ours.backend == {"postgres": "postgresql"}.get(theirs.get_backend_name(), theirs.get_backend_name())
    assert ours.render_as_string(hide_password=False).split("://", 1)[1] == \
        theirs.render_as_string(hide_password=False).split("://", 1)[1]


def test_the_password_is_hidden_when_shown() -> None:
    url = parse_url("postgresql://alice:topsecret@db/crs")
    assert "topsecret" not in str(url) and "topsecret" not in url.render_as_string()
    assert url.render_as_string() == "postgresql+psycopg://alice:***@db/crs"


@pytest.mark.parametrize("text, said", [
    ("not a url", "not valid"), ("sqlite://", "must be a file path"), ("sqlite:///:memory:", "must be a file path"),
    ("sqlite:///x.db?cache=shared", "unsupported parameter (cache)"), ("sqlite:///a%00b.db", "NUL character"), ("mysql://u@h/db", "only SQLite"),
    ("postgresql://u@h:port/db", "port is not a number"), ("postgresql://u@h/db?nonsense=1", "unknown parameter"),
])
def test_what_crs_cannot_store_in_is_one_sentence(text: str, said: str) -> None:
    with pytest.raises(Invalid, match=said.replace("(", r"\(").replace(")", r"\)")):
        parse_url(text)


_NAME = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
_HOST = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5})?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(user=_NAME, password=st.one_of(st.none(), _NAME), host=_HOST, port=st.one_of(st.none(), st.integers(1, 65535)),
       database=st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True),
       query=st.lists(st.tuples(st.sampled_from(["sslmode", "connect_timeout", "application_name"]),
                                st.from_regex(r"[A-Za-z0-9_]{0,8}", fullmatch=True)), max_size=2, unique_by=lambda q: q[0]))
def test_generated_postgresql_urls_mean_what_sqlalchemy_says(user: str, password: str | None, host: str,
                                                             port: int | None, database: str,
                                                             query: list[tuple[str, str]]) -> None:
    text = f"postgresql+psycopg://{quote(user, safe='')}"
    text += (f":{quote(password, safe='')}" if password is not None else "") + f"@{host}"
    text += (f":{port}" if port is not None else "") + f"/{database}"
    text += ("?" + "&".join(f"{k}={v}" for k, v in query)) if query else ""
    ours, theirs = parse_url(text), make_url(text)
    assert _fields(ours) == _fields(theirs)
    assert (ours.username, ours.password) == (user, password)
    assert parse_url(ours.render_as_string(hide_password=False)) == ours  # rendering round-trips


@settings(max_examples=200, deadline=None)
@given(path=st.lists(st.from_regex(r"[A-Za-z0-9_. %+-]{1,10}", fullmatch=True), min_size=1, max_size=4),
       absolute=st.booleans())
def test_generated_sqlite_paths_mean_what_sqlalchemy_says(path: list[str], absolute: bool) -> None:
    database = ("/" if absolute else "") + "/".join(path)
    if database.strip() in ("", ":memory:") or database != database.strip():
        return
    text = f"sqlite:///{database}"
    ours, theirs = parse_url(text), make_url(text)
    assert ours.database == theirs.database  # percent-escapes decoded, as SQLAlchemy does


def test_a_nul_in_the_path_is_exit_2_not_70() -> None:
    """Regression: `--db sqlite:///%00` reached sqlite3.connect, whose ValueError was an internal error (exit 70)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "cli", "--db", "sqlite:///%00", "list"], capture_output=True,
                          text=True, timeout=60, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "NUL character" in done.stderr
