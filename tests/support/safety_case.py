"""The safety case's checker: docs/SAFETY.md read as data, and every reference in it resolved.

A safety case that names a test which was renamed, a rule that was merged away or an invariant that no
longer exists still reads well, and proves nothing. So each hazard section of docs/SAFETY.md has a fixed,
machine-readable shape (see the document's introduction), `parse` reads it, and `problems` resolves every
name in it against the code: rule IDs against pathway.rules, invariants against the stateful suite's
EpisodeMachine (decorated with Hypothesis' @invariant), exhaustive slices against
tests/properties/exhaustive.py, problem tags against the messages the invariants produce, and every
pytest node id (evidence and teeth) against the test file that must define it, found with `ast`.

The rule table, the invariants and the slices are the imported project's; `root` is where the test
files and the problem-tag sources are read. `document_problems` adds the checks on the whole text (the
summary table is the one `summary_table` generates, the placeholder sections exist, nothing points at
a folder outside the project). Run `python -m tests.support.safety_case` to rewrite the summary table.
"""

import ast
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

#: Every hazard the project's hazard table names (H1–H23): each must have a section.
REQUIRED = tuple(f"H{n}" for n in range(1, 24))
#: The lines of a hazard section, in this order.
FIELDS = ("situation", "cause", "harm", "control", "invariant", "evidence", "teeth")
#: Where the invariants' problem messages are written (the prefix before ':' is the tag).
TAG_SOURCES = ("tests/properties/safety.py", "tests/properties/effective.py", "tests/properties/corrections.py",
               "tests/properties/advice.py", "tests/properties/episode_machine.py", "tests/properties/exhaustive.py")
#: The two sections the document must end with (filled by the mutation and fuzzing work).
TAIL_SECTIONS = ("## Mutation testing", "## Fuzzing budget")
TABLE_START, TABLE_END = "<!-- summary:start -->", "<!-- summary:end -->"
#: The project reads without the shared reference folder: the document must not point at it.
FORBIDDEN_REFERENCES = ("../shared", "shared/")

_HEADING = re.compile(r"^### (H\d+)\b(.*)$")
_TITLE = re.compile(r"^ — \S.*$")
_FIELD = re.compile(r"^- ([a-z]+):(.*)$")
_SECTION_END = re.compile(r"^#{1,3} ")
_TICKED = re.compile(r"`([^`]+)`")
_RULE = re.compile(r"rule `([^`]+)`(?: \((hard or overridable|hard|overridable)\))?")
_NODE = re.compile(r"`([^`]+)`(?:\s*\(cases? ([^)]*)\))?")
_TAG = re.compile(r"^[A-Z][A-Z0-9_]*$")
_PATH = re.compile(r"^[\w.-]+(/[\w.-]+)+$")


@dataclass(frozen=True)
class NodeRef:
    """A pytest node id (`path::name` or `path::Class::method`) and the parametrize cases it means, if named."""

    node: str
    cases: tuple[str, ...] = ()


@dataclass
class Hazard:
    """One hazard section: its id, title, the text of each field line, and what was wrong with its shape."""

    id: str
    title: str
    fields: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def rules(self) -> list[tuple[str, str | None]]:
        """(rule ID, the kind the document gives or None) for every `rule \\`ID\\`` in the control line."""
        return [(m.group(1), m.group(2)) for m in _RULE.finditer(self.fields.get("control", ""))]

    def nodes(self, name: str) -> list[NodeRef]:
        """The node ids named in an evidence or teeth line, each with its `(case ...)` list."""
        out = []
        for m in _NODE.finditer(self.fields.get(name, "")):
            cases = tuple(c.strip() for c in (m.group(2) or "").split(",") if c.strip())
            out.append(NodeRef(m.group(1), cases))
        return out

    @property
    def invariant_none(self) -> bool:
        return self.fields.get("invariant", "").startswith("none")


def parse(text: str) -> dict[str, Hazard]:
    """Every `### H<n> — title` section, with its `- field: text` lines (an indented line continues the one
    before). A section ends at the next heading of level 1 to 3. Shape errors are kept on the hazard."""
    hazards: dict[str, Hazard] = {}
    current: Hazard | None = None
    last: str | None = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            hid, rest = heading.groups()
            if hid in hazards:
                hazards[hid].errors.append(f"{hid}: the section appears more than once")
                current, last = None, None
                continue
            current = Hazard(hid, rest[3:].strip() if _TITLE.match(rest) else rest.strip())
            if not _TITLE.match(rest):
                current.errors.append(f"{hid}: the heading must be `### {hid} — <the hazard in a few words>`")
            hazards[hid] = current
            last = None
            continue
        if _SECTION_END.match(line):
            current, last = None, None
            continue
        if current is None:
            continue
        found = _FIELD.match(line)
        if found:
            name, value = found.group(1), found.group(2).strip()
            if name not in FIELDS:
                current.errors.append(f"{current.id}: unknown line `{name}` (expected one of {', '.join(FIELDS)})")
                last = None
            elif name in current.fields:
                current.errors.append(f"{current.id}: the `{name}` line appears twice")
                last = None
            else:
                current.fields[name] = value
                last = name
        elif line.startswith("  ") and last is not None and line.strip():
            current.fields[last] = f"{current.fields[last]} {line.strip()}".strip()
        elif line.strip():
            last = None
    return hazards


# -- what the references resolve against ----------------------------------------------------------------

@cache
def known_rules() -> dict[str, str]:
    """Rule ID -> its kind ("hard", "overridable", "hard or overridable"), from pathway.rules."""
    from pathway.rules import RULES

    return {rid: rule.kind.value for rid, rule in RULES.items()}


@cache
def known_invariants() -> frozenset[str]:
    """The methods of EpisodeMachine that Hypothesis runs as invariants (its @invariant marker)."""
    from hypothesis.stateful import INVARIANT_MARKER

    from tests.properties.episode_machine import EpisodeMachine

    return frozenset(name for name in dir(EpisodeMachine)
                     if getattr(getattr(EpisodeMachine, name, None), INVARIANT_MARKER, None) is not None)


@cache
def known_slices() -> frozenset[str]:
    from tests.properties.exhaustive import SLICES

    return frozenset(s.name for s in SLICES)


@cache
def _tree(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _strings(tree: ast.Module) -> set[str]:
    """Every string constant in a module (f-strings' literal parts too)."""
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


@cache
def known_tags(root: Path) -> frozenset[str]:
    """The problem tags the invariants report: the `TAG` of each `"TAG: ..."` string in TAG_SOURCES."""
    tags: set[str] = set()
    for rel in TAG_SOURCES:
        tree = _tree(root / rel)
        for text in _strings(tree) if tree is not None else ():
            head = text.split(":", 1)[0]
            if ":" in text and _TAG.match(head):
                tags.add(head)
    return frozenset(tags)


def _top_level(tree: ast.Module) -> tuple[dict[str, set[str]], set[str]]:
    """(class name -> its method names, every other name defined at top level: functions and assignments)."""
    classes: dict[str, set[str]] = {}
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return classes, names


def _case_words(root: Path, path: Path, tree: ast.Module) -> set[str]:
    """What a parametrize case may be named by: string constants and top-level names of the test file and of
    the tests.* modules it imports (a registry such as tests/support/forgeries.py)."""
    words = _strings(tree) | _top_level(tree)[1] | set(_top_level(tree)[0])
    for node in tree.body:
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests"):
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names if a.name.startswith("tests")]
        for module in modules:
            imported = root.joinpath(*module.split(".")).with_suffix(".py")
            other = _tree(imported) if imported != path else None
            if other is not None:
                words |= _strings(other) | _top_level(other)[1]
    return words


def node_problems(ref: NodeRef, root: Path) -> list[str]:
    """Why a node id does not name a collected test: [] when `path` is a tests/**/test_*.py file defining it."""
    parts = ref.node.split("::")
    if len(parts) not in (2, 3) or not all(parts):
        return [f"`{ref.node}` is not a node id (path::function or path::Class::method)"]
    rel, names = parts[0], parts[1:]
    path = root / rel
    if not (rel.startswith("tests/") and Path(rel).name.startswith("test_") and rel.endswith(".py")):
        return [f"`{ref.node}`: {rel} is not a test file (tests/**/test_*.py)"]
    tree = _tree(path) if path.is_file() else None
    if tree is None:
        return [f"`{ref.node}`: {rel} does not exist or does not parse"]
    classes, top = _top_level(tree)
    if len(names) == 1:
        name = names[0]
        collected = (name.startswith("test") and name in top) or (name.startswith("Test") and (name in classes
                                                                                               or name in top))
        if not collected:
            return [f"`{ref.node}`: {rel} defines no test `{name}` at top level"]
    else:
        cls, method = names
        if not cls.startswith("Test") or cls not in classes:
            return [f"`{ref.node}`: {rel} defines no test class `{cls}` at top level"]
        if not method.startswith("test") or method not in classes[cls]:
            return [f"`{ref.node}`: class {cls} in {rel} defines no test method `{method}`"]
    words = _case_words(root, path, tree) if ref.cases else set()
    return [f"`{ref.node}`: case `{case}` is named nowhere in {rel} or the test modules it imports"
            for case in ref.cases if case not in words]


# -- the checks --------------------------------------------------------------------------------------------

def _control_problems(h: Hazard, root: Path) -> list[str]:
    out: list[str] = []
    control = h.fields["control"]
    rules = known_rules()
    for rid, kind in h.rules():
        if rid not in rules:
            out.append(f"{h.id}: control names unknown rule `{rid}` (not in pathway/rules.py)")
        elif kind is not None and kind != rules[rid]:
            out.append(f"{h.id}: control calls rule `{rid}` {kind}; pathway/rules.py says {rules[rid]}")
    named = {m.group(1) for m in _RULE.finditer(control)}
    for token in _TICKED.findall(control):
        if token not in named and _PATH.match(token) and not (root / token.split("::")[0]).exists():
            out.append(f"{h.id}: control names `{token}`, which does not exist")
    if not named and "design:" not in control and "validation:" not in control:
        out.append(f"{h.id}: control names no rule `ID`, no `design:` and no `validation:`")
    return out


def _invariant_problems(h: Hazard, root: Path) -> list[str]:
    text = h.fields["invariant"]
    if h.invariant_none:
        if not re.match(r"^none — \S.{20,}", text):
            return [f"{h.id}: `invariant: none` must say why: `none — <why the stateful suite cannot state it>`"]
        if "EpisodeMachine." in text or "exhaustive:" in text:
            return [f"{h.id}: `invariant: none` also names an invariant"]
        return []
    out: list[str] = []
    stated = 0
    tags = known_tags(root) | set(known_rules())
    for token in _TICKED.findall(text):
        if token.startswith("EpisodeMachine."):
            stated += 1
            name = token.removeprefix("EpisodeMachine.")
            if name not in known_invariants():
                out.append(f"{h.id}: `{token}` is not an @invariant of EpisodeMachine "
                           f"(tests/properties/episode_machine.py)")
        elif token.startswith("exhaustive:"):
            stated += 1
            name = token.removeprefix("exhaustive:").strip()
            if name not in known_slices():
                out.append(f"{h.id}: `{token}` is not a slice of tests/properties/exhaustive.py SLICES")
        elif _TAG.match(token):
            if token not in tags:
                out.append(f"{h.id}: problem tag `{token}` is neither a rule ID nor a tag any invariant reports")
        else:
            out.append(f"{h.id}: `{token}` in the invariant line is neither `EpisodeMachine.<invariant>`, "
                       "`exhaustive: <slice>` nor a problem tag")
    if not stated:
        out.append(f"{h.id}: the invariant line names no `EpisodeMachine.<invariant>` and no `exhaustive: <slice>` "
                   "(write `none — <why>` if the stateful suite cannot state it)")
    return out


def _node_line_problems(h: Hazard, name: str, root: Path) -> list[str]:
    text = h.fields[name]
    out: list[str] = []
    if "TODO" in text:
        out.append(f"{h.id}: `{name}` still has a TODO: {text[text.index('TODO'):][:120]}")
    refs = h.nodes(name)
    if not refs and "TODO" not in text:
        out.append(f"{h.id}: `{name}` names no test")
    for ref in refs:
        out += [f"{h.id}: {name} {p}" for p in node_problems(ref, root)]
    return out


def problems(hazards: dict[str, Hazard], root: Path) -> list[str]:
    """Everything that keeps the sections from being a safety case; [] when every reference resolves."""
    out = [f"{hid}: missing (every hazard of the project's table needs a section)" for hid in REQUIRED
           if hid not in hazards]
    numbers = sorted(int(hid[1:]) for hid in hazards)
    out += [f"H{n}: missing (hazard ids run H1 to H{numbers[-1]} without gaps)"
            for n in range(1, numbers[-1] + 1 if numbers else 1) if n not in numbers and f"H{n}" not in REQUIRED]
    for hid in sorted(hazards, key=lambda k: int(k[1:])):
        h = hazards[hid]
        out += h.errors
        missing = [name for name in FIELDS if not h.fields.get(name)]
        out += [f"{hid}: no `{name}` line (or it is empty)" for name in missing]
        if "control" not in missing:
            out += _control_problems(h, root)
        if "invariant" not in missing:
            out += _invariant_problems(h, root)
        for name in ("evidence", "teeth"):
            if name not in missing:
                out += _node_line_problems(h, name, root)
    return out


# -- the summary table -----------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def summary_table(hazards: dict[str, Hazard]) -> str:
    """The table at the top of the document, generated from the sections (so it cannot drift from them)."""
    lines = ["| id | hazard | control | invariant | teeth |", "| --- | --- | --- | --- | --- |"]
    for hid in sorted(hazards, key=lambda k: int(k[1:])):
        h = hazards[hid]
        control = [f"`{rid}`" for rid, _ in h.rules()]
        text = h.fields.get("control", "")
        control += [word for word in ("validation", "design") if f"{word}:" in text]
        if h.invariant_none:
            invariant = "none (named tests)"
        else:
            found = _TICKED.findall(h.fields.get("invariant", ""))
            invariant = ", ".join(t.removeprefix("EpisodeMachine.") for t in found
                                  if t.startswith(("EpisodeMachine.", "exhaustive:")))
        teeth = h.fields.get("teeth", "")
        count = str(len(h.nodes("teeth")))
        if "TODO" in teeth:
            count += " + TODO"
        lines.append(f"| {hid} | {_cell(h.title)} | {', '.join(control)} | {invariant} | {count} |")
    return "\n".join(lines)


def with_summary(text: str) -> str:
    """The document with its summary table (between the markers) regenerated from its sections."""
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return f"{text[:start]}\n{summary_table(parse(text))}\n{text[end:]}"


def document_problems(text: str, root: Path) -> list[str]:
    """problems() of the parsed sections, plus the whole document's: the table is current, the tail sections
    exist, and nothing points at a folder outside the project."""
    out = problems(parse(text), root)
    if TABLE_START not in text or TABLE_END not in text:
        out.append(f"the summary table's markers {TABLE_START} / {TABLE_END} are missing")
    elif with_summary(text) != text:
        out.append("the summary table does not match the sections: run `.venv/bin/python -m tests.support.safety_case`")
    out += [f"the document has no `{heading}` section" for heading in TAIL_SECTIONS
            if not re.search(f"^{re.escape(heading)}$", text, re.M)]
    out += [f"the document points at `{ref}`: it must read without anything outside the project"
            for ref in FORBIDDEN_REFERENCES if ref in text]
    return out


def main() -> int:
    """Rewrite docs/SAFETY.md's summary table, then print every problem left (exit 1 if any)."""
    root = Path(__file__).resolve().parents[2]
    doc = root / "docs" / "SAFETY.md"
    text = with_summary(doc.read_text(encoding="utf-8"))
    doc.write_text(text, encoding="utf-8")
    found = document_problems(text, root)
    print("\n".join(found) if found else "docs/SAFETY.md: no problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
