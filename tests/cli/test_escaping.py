"""Stored text can never rewrite a screen or a report (HAZARDS H22), with real `crs` processes.

Found: a policy name or version containing ESC[2J, U+202E or a newline was stored and printed raw
(the screen was cleared); the Markdown report passed `<script>`, `<img onerror>` and `javascript:`
links through from actor, context and notes.

The database here is what an older version (or someone with the file) could have written: the text
goes in through the real store and service, past the CLI's input checks (which now refuse it), so
the chain is intact and every command reads it. Every human command must then show the text with
its control characters escaped (`\\x1b`, `\\u202e`, `\\n`), never raw, never as rich markup; the
Markdown and HTML reports must render it as text; JSON must stay valid and carry the exact value.

The processes are `python -m cli` of this checkout (PYTHONPATH = the repository root), so the same
file can run against another checkout, e.g. the previous release.
"""

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import ACTOR, Ran, one_sentence

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)

CLEAR = "\x1b[2J"  # ESC [ 2 J: clear the screen
RLO = "\u202e"  # right-to-left override: reverses what follows on the line
CSI = "\x9b"  # the one-byte (C1) form of ESC [
HOSTILE = (f"{CLEAR}{RLO}reversed\nfake line{CSI}31m [red]markup[/red] <script>alert(1)</script> "
           "<img src=x onerror=alert(2)> [click](javascript:alert(3)) ![i](javascript:alert(4)) *bold* `code`")
ACTOR_TEXT = f"Dr{CLEAR}{RLO}X\nfake [red]m[/red] <script>"  # an actor is at most 64 characters
POLICY_NAME = f"site{CLEAR}{RLO}\nfake <script>"
POLICY_VERSION = f"1{CLEAR}{RLO}\n2"
RAW = (CLEAR[0], RLO, CSI)  # none of these may reach a person's output raw


def run_crs(*args: str, env: dict[str, str] | None = None) -> Ran:
    base = {k: v for k, v in os.environ.items() if k != "CRS_DB"}
    full_env = {**base, "NO_COLOR": "1", "CRS_ACTOR": ACTOR, "PYTHONPATH": str(ROOT), "COLUMNS": "2000",
                "PYTHONIOENCODING": "utf-8", **(env or {})}
    done = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=full_env,
                          cwd=ROOT, timeout=120, encoding="utf-8", errors="surrogateescape")
    return Ran(done.returncode, done.stdout, done.stderr)


def _hostile_database(url: str) -> str:
    """One episode whose actor, context, policy name and version, note and override reason are hostile,
    and one refused attempt by the hostile actor; written by the real store and service."""
    from pathway.commands import AdministerDose, OpenEpisode, RecordAction, RecordObservation
    from pathway.errors import Refused
    from pathway.observations import Observation
    from pathway.policy import Policy
    from pathway.service import handle
    from persistence.store import Store

    store = Store.open(url)
    try:
        def step(command: Any) -> Any:
            return handle(command, store.unit_of_work(), command.at + timedelta(minutes=1))

        def at(minutes: int) -> datetime:
            return T0 + timedelta(minutes=minutes)

        policy = Policy(name=POLICY_NAME, version=POLICY_VERSION)
        episode = step(OpenEpisode(at=at(0), actor=ACTOR_TEXT, patient_ref="PT-H22", weight_kg=70, age_years=54,
                                   context=HOSTILE, policy=policy)).episode.id
        step(RecordObservation(at=at(10), actor=ACTOR_TEXT, episode_id=episode,
                               observation=Observation(temp_c=38.9, o2_device="nasal-cannula", o2_flow_lpm=2)))
        step(AdministerDose(at=at(20), actor=ACTOR_TEXT, episode_id=episode, drug="tocilizumab", dose_mg=560))
        step(AdministerDose(at=at(30), actor=ACTOR_TEXT, episode_id=episode, drug="dexamethasone", dose_mg=10,
                            override_reason=HOSTILE))
        step(RecordAction(at=at(40), actor=ACTOR_TEXT, episode_id=episode, action="labs", note=HOSTILE))
        with pytest.raises(Refused):
            step(AdministerDose(at=at(50), actor=ACTOR_TEXT, episode_id=episode, drug="tocilizumab", dose_mg=560))
    finally:
        store.close()
    return episode


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('h22') / 'crs.db'}"
    return url, _hostile_database(url)


def _assert_nothing_raw(ran: Ran, what: str) -> None:
    shown = ran.stdout + ran.stderr
    for char in RAW:
        assert char not in shown, f"{what}: raw U+{ord(char):04X} printed"


#: Every human view of the record, and the text each must show escaped (proof the text is there, not dropped).
HUMAN_COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "status": (["status", "EPISODE"], ["site\\x1b[2J\\u202e\\nfake <script>", "1\\x1b[2J\\u202e\\n2"]),
    "status-as-of": (["status", "EPISODE", "--as-of", "2025-03-01T08:45:00Z"], ["site\\x1b[2J"]),
    "history": (["history", "EPISODE"], ["Dr\\x1b[2J\\u202eX\\nfake [red]m[/red] <script>",
                                         "\\x1b[2J\\u202ereversed\\nfake line\\x9b31m [red]markup[/red]"]),
    "list": (["list"], ["PT-H22"]),
    "refusals": (["audit", "refusals"], ["Dr\\x1b[2J\\u202eX\\nfake [red]m[/red] <script>"]),
    "refusals-episode": (["audit", "refusals", "EPISODE"], ["Dr\\x1b[2J"]),
    "report-md": (["audit", "report", "EPISODE"], ["Dr\\\\x1b\\[2J\\\\u202eX\\\\nfake \\[red\\]m\\[/red\\] &lt;script&gt;"]),
    "report-html": (["audit", "report", "EPISODE", "--format", "html"],
                    ["Dr\\x1b[2J\\u202eX\\nfake [red]m[/red] &lt;script&gt;"]),
    "verify": (["audit", "verify"], ["OK"]),
    "pathway": (["pathway"], ["States"]),
    "export-fhir": (["export", "EPISODE", "--format", "fhir"], ["Dr\\u001b[2J\\u202eX\\nfake [red]m[/red] <script>"]),
}


@pytest.mark.parametrize("name", sorted(HUMAN_COMMANDS))
def test_stored_control_characters_are_escaped_in_every_human_command(hostile: tuple[str, str], name: str) -> None:
    """A policy name, actor, context, note or reason with ESC[2J, U+202E, a C1 CSI or a newline was printed raw
    (the screen cleared, the line reversed, a fake line); now each is shown as its escape, rich markup as text."""
    url, episode = hostile
    args, expected = HUMAN_COMMANDS[name]
    ran = run_crs("--db", url, *[episode if a == "EPISODE" else a for a in args])
    assert ran.code == 0, ran.stderr
    _assert_nothing_raw(ran, name)
    for text in expected:
        assert text in ran.stdout, f"{name}: {text!r} not shown"
    assert not any(line.lstrip("│| ").startswith("fake") for line in ran.stdout.splitlines()), \
        f"{name}: a stored newline started a line"


def test_stored_control_characters_are_escaped_on_a_colour_terminal(hostile: tuple[str, str]) -> None:
    """On a real terminal (a pty: colour on), rich's own colour codes are the only escape sequences."""
    import pty

    url, episode = hostile
    for args in (["status", episode], ["history", episode], ["audit", "refusals"]):
        env = {k: v for k, v in os.environ.items() if k not in ("CRS_DB", "NO_COLOR")}
        env.update({"PYTHONPATH": str(ROOT), "COLUMNS": "400", "LINES": "50", "TERM": "xterm-256color",
                    "CRS_ACTOR": ACTOR})
        primary, secondary = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "cli", "--db", url, *args], stdin=secondary,
                                   stdout=secondary, stderr=secondary, env=env, cwd=ROOT, close_fds=True)
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(primary)
        assert process.wait(timeout=120) == 0
        shown = b"".join(chunks).decode("utf-8", "replace")
        sequences = set(re.findall(r"\x1b\[[0-9;?]*[A-Za-z]", shown))
        assert sequences and all(seq.endswith("m") for seq in sequences), f"{args}: only colour codes: {sequences}"
        assert CLEAR not in shown and RLO not in shown and CSI not in shown, args
        assert "\\x1b[2J" in shown, f"{args}: the escaped form is shown"


#: --json views and the stored text each must carry exactly.
JSON_COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "status": (["status", "EPISODE"], [POLICY_NAME, POLICY_VERSION]),
    "history": (["history", "EPISODE"], [ACTOR_TEXT, HOSTILE]),
    "refusals": (["audit", "refusals"], [ACTOR_TEXT]),
    "list": (["list"], []),
    "report-json": (["audit", "report", "EPISODE", "--format", "json"], [ACTOR_TEXT, HOSTILE, POLICY_NAME]),
}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_json_output_is_valid_and_carries_the_stored_text_exactly(hostile: tuple[str, str], name: str) -> None:
    """--json: one valid JSON object with the stored text unchanged, and no raw ESC, C1 or bidi character in
    what is printed (written as JSON escapes: `\\u001b`, `\\u009b`, `\\u202e`)."""
    url, episode = hostile
    args, expected = JSON_COMMANDS[name]
    ran = run_crs("--db", url, *[episode if a == "EPISODE" else a for a in args], "--json")
    assert ran.code == 0, ran.stderr
    _assert_nothing_raw(ran, name)
    strings = _strings(json.loads(ran.stdout))
    for text in expected:
        assert any(text in s for s in strings), f"{name}: {text!r} not carried exactly"


# -- the reports: record text is text, never markup or a link ---------------------------------------

class _Tags(HTMLParser):
    """Every start tag and attribute of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _dangerous(html: str) -> list[str]:
    """Tags and attributes that would run script or load anything: <script>, <img>, on* handlers, javascript: URLs."""
    parser = _Tags()
    parser.feed(html)
    found = []
    for tag, attrs in parser.tags:
        if tag in ("script", "img", "iframe", "object", "embed"):
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"{tag} {name}=")
            if value and value.strip().lower().startswith("javascript:"):
                found.append(f"{tag} {name}=javascript:")
    return found


def test_markdown_report_renders_record_text_as_text(hostile: tuple[str, str]) -> None:
    """The Markdown report passed `<script>`, `<img onerror>` and `[x](javascript:...)` from actor, context and
    notes through; rendered by a CommonMark renderer that allows raw HTML (the worst viewer), none is markup."""
    from markdown_it import MarkdownIt

    url, episode = hostile
    ran = run_crs("--db", url, "audit", "report", episode)
    assert ran.code == 0, ran.stderr
    source = ran.stdout
    assert "<script" not in source and "<img" not in source, "no raw HTML tag in the Markdown source"
    assert not re.search(r"(?<!\\)\]\(javascript:", source), "no link target survives"
    assert not re.search(r"(?<!\\)\]\(", source), "no link or image at all"
    rendered = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(source)
    assert _dangerous(rendered) == [], rendered
    assert "<a " not in rendered, "no record text became a link"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered and "[click](javascript:alert(3))" in rendered
    assert "*bold*" in rendered and "`code`" in rendered, "emphasis and code syntax shown as typed"
    assert rendered.count("<table>") >= 5 and "fake line" in rendered


def test_markdown_report_table_rows_keep_their_columns(hostile: tuple[str, str]) -> None:
    """A `|` or newline in record text cannot add a column or a row: every table row has its header's cells."""
    url, episode = hostile
    source = run_crs("--db", url, "audit", "report", episode).stdout
    for block in source.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if not rows:
            continue
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, block


def test_html_report_escapes_record_text(hostile: tuple[str, str], tmp_path: Path) -> None:
    """The HTML report (html.escape already) also shows control and bidi characters as escapes."""
    url, episode = hostile
    out = tmp_path / "report.html"
    ran = run_crs("--db", url, "audit", "report", episode, "--format", "html", "--out", str(out))
    assert ran.code == 0, ran.stderr
    html = out.read_text(encoding="utf-8")
    assert _dangerous(html) == []
    assert "&lt;img src=x onerror=alert(2)&gt;" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for char in RAW:
        assert char not in html
    assert "\\x1b[2J\\u202ereversed\\nfake line\\x9b31m" in html


def test_markdown_report_file_has_no_raw_control_characters(hostile: tuple[str, str], tmp_path: Path) -> None:
    url, episode = hostile
    out = tmp_path / "report.md"
    assert run_crs("--db", url, "audit", "report", episode, "--out", str(out)).code == 0
    text = out.read_text(encoding="utf-8")
    for char in RAW:
        assert char not in text
    assert "site\\\\x1b\\[2J\\\\u202e\\\\nfake &lt;script&gt;" in text


# -- the edge: a policy file cannot bring such a name in ---------------------------------------------

@pytest.mark.parametrize("field, value", [("name", "evil\\u001b[2J"), ("name", "evil\\u202e"),
                                          ("version", "1\\n2")],
                         ids=["name-esc", "name-rlo", "version-newline"])  # every character: test_policy_text.py
def test_policy_file_with_control_characters_in_its_name_is_exit_2(tmp_path: Path, field: str, value: str) -> None:
    """A policy name or version with ESC[2J, U+202E or a newline was stored and printed raw; now the policy file
    is invalid input (exit 2, one sentence naming --policy and the field), and nothing is written."""
    policy = tmp_path / "site.toml"
    other = "version" if field == "name" else "name"
    policy.write_text(f'{field} = "{value}"\n{other} = "ok"\n', encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'crs.db'}"
    ran = run_crs("--db", url, "open", "--patient", "PT-1", "--weight-kg", "70", "--age-years", "50",
                  "--policy", str(policy))
    assert ran.code == 2 and ran.stdout == "" and one_sentence(ran.stderr), ran
    assert "--policy" in ran.stderr and f"{field}:" in ran.stderr and "printable" in ran.stderr
    _assert_nothing_raw(ran, "the refusal sentence")
    as_json = run_crs("--db", url, "open", "--patient", "PT-1", "--weight-kg", "70", "--age-years", "50",
                      "--policy", str(policy), "--json")
    assert as_json.code == 2 and as_json.json["error"] == "invalid"
    listed = run_crs("--db", url, "list", "--json")
    assert listed.code != 0 or listed.json["episodes"] == [], "no episode was opened"
