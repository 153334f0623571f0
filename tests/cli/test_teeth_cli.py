"""Teeth for the CLI-side controls of the record (HAZARDS H16, H20's report, H22): ONE control off, the evidence fails.

The evidence for these controls (tests/cli/test_safe_out.py, tests/cli/test_escaping.py) mostly runs real `crs`
processes, which import the code afresh: a monkeypatch in this process cannot reach them. So each teeth
test runs the same check those tests make through the app in-process (Typer's CliRunner on the same
`CrsGroup.main` the console script calls: the real exit codes, stdout and stderr) on a real SQLite file,
first with the control switched off by monkeypatch (the check must fail: AssertionError), then, the patch
undone, with the control on (the same check must pass, so the teeth test cannot pass vacuously).

| test                                     | control switched off                 | what then happens                 |
| ---------------------------------------- | ------------------------------------ | --------------------------------- |
| test_teeth_h16_safe_out                  | cli.outfile check_out + write_out    | `audit report --out crs.db`       |
|                                          | (a plain write, as before)           | overwrites the database (found)   |
| test_teeth_h16_database_refusal          | cli.outfile._refuse_protected        | `--out crs.db --force` replaces   |
|                                          |                                      | the database with the report      |
| test_teeth_h16_existing_file_refusal     | check_out's refusal of an existing   | an existing file is overwritten   |
|                                          | file (each --out taken as --force)   | without --force                   |
| test_teeth_h20_report_keeps_the_original | cli.report.assemble's timeline of    | a superseded or voided entry      |
|                                          | every event (only what stands)       | vanishes from the QA report       |
| test_teeth_h22_terminal_escaping         | cli.text.visible (and where it is    | ESC[2J of a policy name reaches   |
|                                          | imported by name)                    | `crs status`                      |
| test_teeth_h22_json_escaping             | cli.text.visible_json                | a raw U+202E in `--json` output   |
| test_teeth_h22_markdown_html_escaping    | cli.report.markdown.md's HTML escape | `<script>` in the Markdown report |
| test_teeth_h22_html_report_escaping      | cli.report.html.escape               | `<script>`, `<img onerror>` in    |
|                                          |                                      | the HTML report                   |
"""

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from persistence import audit
from persistence.store import Store, reset_process_cache
from tests.cli import test_escaping as escaping
from tests.cli.conftest import ACTOR, Ran
from tests.support.steps import T0, give, minutes, observe, open_episode

#: What a failed evidence check raises: an assert, or pytest.raises' "DID NOT RAISE".
EVIDENCE_FAILS = (AssertionError, pytest.fail.Exception)


def crs(*args: str) -> Ran:
    """`crs ARGS` in-process (CliRunner on the real app); CRS_DB never from the environment."""
    result = CliRunner().invoke(app, list(args), env={"CRS_DB": None, "CRS_ACTOR": ACTOR, "NO_COLOR": "1",
                                                      "COLUMNS": "2000"})
    return Ran(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    """Each run opens its database as a new `crs` process would (no engine or schema check carried over)."""
    reset_process_cache()
    yield
    reset_process_cache()


# -- H16: safe --out ----------------------------------------------------------------------------------------

class Ward:
    """A real SQLite database made by the store (an episode: observed, treated, one dose refused), all closed."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder, self.path = folder, folder / "crs.db"
        self.url = f"sqlite:///{self.path}"
        store = Store.open(self.url)
        try:
            self.episode = open_episode(store)
            observe(store, self.episode, T0 + minutes(10))
            give(store, self.episode, T0 + minutes(20))
        finally:
            store.close()
            reset_process_cache()

    def digest(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def report(self, *extra: str) -> Ran:
        return crs("--db", self.url, "audit", "report", self.episode, *extra)

    def verifies(self) -> bool:
        reset_process_cache()
        try:
            store = Store.open(self.url, read_only=True)
        except Exception:  # noqa: BLE001 - a file that is no longer a database does not verify
            return False
        try:
            return audit.verify(store).ok
        finally:
            store.close()
            reset_process_cache()


def report_out_refuses_the_database(ward: Ward, *extra: str) -> None:
    """The evidence of test_safe_out.py test_report_out_refuses_the_live_database (and ..._even_with_force):
    `audit report E --out crs.db` is exit 2, one sentence naming the database, nothing written, and the
    database still verifies."""
    before = ward.digest()
    ran = ward.report("--out", str(ward.path), *extra)
    assert ward.digest() == before, f"the database was overwritten (exit {ran.code})"
    assert ran.code == 2 and ran.stdout == "" and "not even with --force" in ran.stderr, ran
    assert ward.verifies(), "the database no longer verifies"


def out_refuses_an_existing_file(ward: Ward) -> None:
    """The evidence of test_safe_out.py test_out_refuses_an_existing_path_without_force: an existing file is
    refused without --force (exit 2, "already exists") and left as it was."""
    kept = ward.folder / "file.out"
    kept.write_text("keep me\n")
    ran = ward.report("--out", str(kept))
    assert kept.read_text() == "keep me\n", f"the existing file was overwritten (exit {ran.code})"
    assert ran.code == 2 and "already exists" in ran.stderr and "--force to overwrite" in ran.stderr, ran


def _plain_write(path: Path, data: str | bytes, **_: Any) -> None:
    """What --out did before cli/outfile.py: write over whatever the path names."""
    Path(path).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def test_teeth_h16_safe_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables cli.outfile.check_out (as cli.outfile.read_record calls it) and cli.outfile.write_out for `crs
    audit report` (as cli.commands.audit imported it): a plain write, as before. `audit report E --out crs.db`
    then overwrites the live database and exits 0 (HAZARDS H16 as found)."""
    from cli import outfile as outfile_module
    from cli.commands import audit as audit_command

    monkeypatch.setattr(outfile_module, "check_out", lambda *args, **kwargs: None)
    monkeypatch.setattr(audit_command, "write_out", _plain_write)
    ward = Ward(tmp_path / "off")
    with pytest.raises(EVIDENCE_FAILS, match="the database was overwritten"):
        report_out_refuses_the_database(ward)
    assert ward.path.read_text(encoding="utf-8").startswith("# QA report"), "the database is now the report"
    assert not ward.verifies()

    monkeypatch.undo()
    report_out_refuses_the_database(Ward(tmp_path / "on"))


def test_teeth_h16_database_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables cli.outfile._refuse_protected (the database and its side files are never an output file, not
    even with --force): `audit report E --out crs.db --force` then replaces the database with the report."""
    import cli.outfile as outfile

    monkeypatch.setattr(outfile, "_refuse_protected", lambda *args, **kwargs: None)
    ward = Ward(tmp_path / "off")
    with pytest.raises(EVIDENCE_FAILS, match="the database was overwritten"):
        report_out_refuses_the_database(ward, "--force")
    assert not ward.verifies()

    monkeypatch.undo()
    report_out_refuses_the_database(Ward(tmp_path / "on"), "--force")


def test_teeth_h16_existing_file_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables cli.outfile.check_out's refusal of an existing path without --force (every --out is taken as
    if --force were given; the database refusal stays on): an existing file is overwritten."""
    import cli.outfile as outfile
    from cli.commands import audit as audit_command

    real_check, real_write = outfile.check_out, outfile.write_out

    def check_out(path: Path, *, force: bool, **kwargs: Any) -> None:
        real_check(path, force=True, **kwargs)

    def write_out(path: Path, data: str | bytes, *, force: bool, **kwargs: Any) -> None:
        real_write(path, data, force=True, **kwargs)

    for module in (outfile, audit_command):
        monkeypatch.setattr(module, "check_out", check_out)
        monkeypatch.setattr(module, "write_out", write_out)
    ward = Ward(tmp_path / "off")
    with pytest.raises(EVIDENCE_FAILS, match="the existing file was overwritten"):
        out_refuses_an_existing_file(ward)
    report_out_refuses_the_database(ward)  # the other control of H16 still holds on its own

    monkeypatch.undo()
    out_refuses_an_existing_file(Ward(tmp_path / "on"))


# -- H20: the original stays in the report ------------------------------------------------------------------

def test_teeth_h20_report_keeps_the_original(crs: Callable[..., Ran], db_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables the report's timeline of every recorded event (cli.report.assemble, as `crs audit report`
    imports it): only the entries that stand are listed, so the dose typed as 56 mg (corrected to 560) and the
    voided dose vanish from the QA report. (The pathway side of H20, a correction that edits its target in
    place, has its teeth in tests/properties/test_teeth_issue10.py: edit-in-place.)"""
    import cli.report
    from tests.cli import test_report_corrections as report_evidence
    from tests.cli.conftest import recent_t0

    store = Store.open(db_url)
    try:
        built = report_evidence.build_corrected(store, recent_t0(30))
    finally:
        store.close()
        reset_process_cache()
    real = cli.report.assemble

    def what_stands_only(*args: Any) -> dict[str, Any]:
        data = real(*args)
        return {**data, "timeline": [row for row in data["timeline"]
                                     if row["superseded_by"] is None and row["voided_by"] is None]}

    monkeypatch.setattr(cli.report, "assemble", what_stands_only)
    with pytest.raises(EVIDENCE_FAILS, match="nothing hidden"):
        report_evidence.test_json_timeline_keeps_and_marks_every_recorded_event(crs, built)

    monkeypatch.undo()
    report_evidence.test_json_timeline_keeps_and_marks_every_recorded_event(crs, built)


# -- H22: terminal escaping -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """test_escaping.py's database: an actor, context, policy name and version, note and override reason with
    ESC[2J, U+202E, a C1 CSI, a newline, rich markup and HTML, written through the real store and service."""
    url = f"sqlite:///{tmp_path_factory.mktemp('h22-teeth') / 'crs.db'}"
    episode = escaping._hostile_database(url)
    reset_process_cache()
    return url, episode


def _run_view(url: str, episode: str, args: list[str]) -> Ran:
    return crs("--db", url, *[episode if a == "EPISODE" else a for a in args])


def human_views_escape_stored_text(hostile: tuple[str, str], names: tuple[str, ...]) -> None:
    """The evidence of test_escaping.py test_stored_control_characters_are_escaped_in_every_human_command, for
    the named views: exit 0, no raw ESC, U+202E or CSI printed, the stored text shown in its escaped form."""
    url, episode = hostile
    for name in names:
        args, expected = escaping.HUMAN_COMMANDS[name]
        ran = _run_view(url, episode, args)
        assert ran.code == 0, (name, ran)
        escaping._assert_nothing_raw(ran, name)
        for text in expected:
            assert text in ran.stdout, f"{name}: {text!r} not shown"


def json_views_escape_stored_text(hostile: tuple[str, str], names: tuple[str, ...]) -> None:
    """The evidence of test_escaping.py test_json_output_is_valid_and_carries_the_stored_text_exactly: valid
    JSON carrying the exact stored value, and nothing raw printed."""
    import json

    url, episode = hostile
    for name in names:
        args, expected = escaping.JSON_COMMANDS[name]
        ran = _run_view(url, episode, [*args, "--json"])
        assert ran.code == 0, (name, ran)
        escaping._assert_nothing_raw(ran, name)
        strings = escaping._strings(json.loads(ran.stdout))
        for text in expected:
            assert any(text in s for s in strings), f"{name}: {text!r} not carried exactly"


def markdown_report_is_text(hostile: tuple[str, str]) -> None:
    """The evidence of test_escaping.py test_markdown_report_renders_record_text_as_text."""
    from markdown_it import MarkdownIt

    url, episode = hostile
    ran = crs("--db", url, "audit", "report", episode)
    assert ran.code == 0, ran
    source = ran.stdout
    assert "<script" not in source and "<img" not in source, "no raw HTML tag in the Markdown source"
    assert not re.search(r"(?<!\\)\]\(", source), "no link or image at all"
    rendered = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(source)
    assert escaping._dangerous(rendered) == [], rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


def html_report_is_text(hostile: tuple[str, str]) -> None:
    """The evidence of test_escaping.py test_html_report_escapes_record_text (on stdout instead of --out)."""
    url, episode = hostile
    ran = crs("--db", url, "audit", "report", episode, "--format", "html")
    assert ran.code == 0, ran
    html = ran.stdout
    assert escaping._dangerous(html) == [], escaping._dangerous(html)
    for char in escaping.RAW:
        assert char not in html, f"raw U+{ord(char):04X} in the HTML report"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _switch_off(monkeypatch: pytest.MonkeyPatch, name: str, replacement: Callable[..., Any]) -> None:
    """Replace cli.text.<name> everywhere it is looked up: in cli.text itself (visible_all, sentence and the
    report package call it there) and in each module that imported it by name."""
    import sys

    import cli.report.html  # noqa: F401 - loaded now, so that none binds the name later, after the undo
    import cli.report.markdown  # noqa: F401
    import cli.report.svg  # noqa: F401
    import cli.text

    monkeypatch.setattr(cli.text, name, replacement)
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("cli.") and getattr(module, name, None) is not None \
                and module is not cli.text:
            monkeypatch.setattr(module, name, replacement)


def test_teeth_h22_terminal_escaping(hostile: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables cli.text.visible (the one escaping rule for stored text shown to a person): the ESC[2J in the
    policy name reaches `crs status` raw, and the actor's in `history` and `audit refusals`."""
    views = ("status", "history", "refusals")
    _switch_off(monkeypatch, "visible", lambda text: text)
    with pytest.raises(EVIDENCE_FAILS, match="raw U\\+001B printed"):
        human_views_escape_stored_text(hostile, views)
    url, episode = hostile
    shown = _run_view(url, episode, ["status", "EPISODE"]).stdout
    assert f"site{escaping.CLEAR}{escaping.RLO}" in shown, "the policy name's ESC[2J reaches the terminal"

    monkeypatch.undo()
    human_views_escape_stored_text(hostile, views)


def test_teeth_h22_json_escaping(hostile: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables cli.text.visible_json (hidden characters that json.dumps leaves raw written as JSON escapes):
    a raw U+202E (and the C1 CSI) of the stored text reaches `--json` output."""
    views = ("status", "history", "refusals")
    _switch_off(monkeypatch, "visible_json", lambda dumped: dumped)
    with pytest.raises(EVIDENCE_FAILS, match="raw U\\+(202E|009B) printed"):
        json_views_escape_stored_text(hostile, views)

    monkeypatch.undo()
    json_views_escape_stored_text(hostile, views)


def test_teeth_h22_markdown_html_escaping(hostile: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables the HTML and Markdown escaping of cli.report.markdown.md (record text is still passed through
    cli.text.visible): `<script>` and `<img onerror>` from the record reach the Markdown report as markup."""
    import cli.report.markdown as markdown
    from cli.text import as_text, visible

    monkeypatch.setattr(markdown, "md", lambda value: visible(as_text(value)))
    with pytest.raises(EVIDENCE_FAILS, match="no raw HTML tag"):
        markdown_report_is_text(hostile)

    monkeypatch.undo()
    markdown_report_is_text(hostile)


def test_teeth_h22_html_report_escaping(hostile: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Disables cli.report.html.escape (record text as HTML text): the record's `<script>` and `<img onerror>`
    become elements of the HTML report."""
    import cli.report.html as html

    monkeypatch.setattr(html, "escape", lambda text: text)
    with pytest.raises(EVIDENCE_FAILS, match="script|img|onerror"):
        html_report_is_text(hostile)

    monkeypatch.undo()
    html_report_is_text(hostile)


def test_the_cli_is_back_after_each_teeth_test() -> None:
    """monkeypatch restored every control these tests switched off."""
    import cli.outfile
    import cli.report.html
    import cli.report.markdown
    import cli.render
    import cli.text
    from cli.commands import audit as audit_command

    assert audit_command.check_out is cli.outfile.check_out and audit_command.write_out is cli.outfile.write_out
    assert cli.outfile._refuse_protected.__module__ == "cli.outfile"
    assert cli.report.markdown.visible is cli.text.visible and cli.report.html.visible is cli.text.visible
    assert cli.render.visible_json is cli.text.visible_json and cli.text.visible("\x1b") == "\\x1b"
    assert cli.report.markdown.md.__module__ == "cli.report.markdown"
    assert cli.report.html.escape.__module__ == "cli.report.html"
    assert cli.report.assemble.__module__ == "cli.report.data"
