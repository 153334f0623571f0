"""An inline SVG timeline: CRS and ICANS grade as step lines over clinical time, with dose markers.

No scripts and no external resources: hover text uses SVG <title>, so the file works offline.
A grade not assessed is never drawn as a grade (it is not 0): the step line carries the last
assessed grade, as the pathway does, and each observation that left a grade unassessed gets a
hollow marker in its own lane below the doses, titled with what was missing.
"""

import math
from datetime import datetime, timedelta
from html import escape
from typing import Any

from cli.text import grade_text, missing_by_domain, visible
from cli.values import stored_time as parse_time  # the record's own times: never range-checked
from pathway.clock import iso

WIDTH, HEIGHT = 960, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 28, 106
CRS_COLOUR, ICANS_COLOUR, DOSE_COLOUR, DEVIATION_COLOUR, REFUSED_COLOUR, NOT_ASSESSED_COLOUR = (
    "#c0392b", "#2563a8", "#2f7d32", "#d97706", "#6b7280", "#92400e")
DRUG_MARK = {"tocilizumab": "T", "dexamethasone": "D", "methylprednisolone": "M", "anakinra": "A",
             "siltuximab": "S", "ruxolitinib": "R", "cyclophosphamide": "C"}


class _Scale:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.span = max((end - start).total_seconds(), 3600.0)

    def x(self, at: datetime) -> float:
        share = (at - self.start).total_seconds() / self.span
        return round(LEFT + share * (WIDTH - LEFT - RIGHT), 1)

    @staticmethod
    def y(grade: float) -> float:
        return round(TOP + (4 - grade) * (HEIGHT - TOP - BOTTOM) / 4, 1)


def _step_path(points: list[tuple[datetime, int]], end: datetime, scale: _Scale) -> str:
    if not points:
        return ""
    parts = [f"M{scale.x(points[0][0])},{scale.y(points[0][1])}"]
    for (_, grade), (next_at, next_grade) in zip(points, points[1:]):
        parts.append(f"H{scale.x(next_at)}")
        parts.append(f"V{scale.y(next_grade)}")
    parts.append(f"H{scale.x(max(end, points[-1][0]))}")
    return " ".join(parts)


def _ticks(scale: _Scale) -> list[str]:
    hours = scale.span / 3600
    # at most ~10 ticks; an episode open for years (e.g. opened at 0001-01-01 by an older crs) gets whole months
    step = next((s for s in (1, 2, 3, 6, 12, 24, 48, 96, 168, 336, 720) if hours / s <= 10),
                720 * math.ceil(hours / 7200))
    out = []
    tick = 0
    while tick <= hours + 1e-9:
        x = scale.x(scale.start + timedelta(hours=tick))
        out.append(f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{HEIGHT - BOTTOM}" class="grid"/>'
                   f'<text x="{x}" y="{HEIGHT - BOTTOM + 14}" class="tick" text-anchor="middle">+{tick} h</text>')
        tick += step
    return out


def timeline_svg(data: dict[str, Any]) -> str:
    start = parse_time(data["opened_at"])
    end = parse_time(data["last_event_at"])
    scale = _Scale(start, end)
    crs = [(parse_time(g["at"]), int(g["crs_grade"])) for g in data["grades"] if g["crs_grade"] is not None]
    icans = [(parse_time(g["at"]), int(g["icans_grade"])) for g in data["grades"] if g["icans_grade"] is not None]
    body = [f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" class="bg"/>']
    body += _ticks(scale)
    for grade in range(5):
        y = scale.y(grade)
        body.append(f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" class="grid"/>'
                    f'<text x="{LEFT - 8}" y="{y + 4}" class="tick" text-anchor="end">{grade}</text>')
    body.append(f'<text x="14" y="{scale.y(2)}" class="axis" transform="rotate(-90 14 {scale.y(2)})" '
                'text-anchor="middle">grade</text>')
    if crs:
        body.append(f'<path d="{_step_path(crs, end, scale)}" fill="none" stroke="{CRS_COLOUR}" stroke-width="3">'
                    "<title>CRS grade</title></path>")
    if icans:
        body.append(f'<path d="{_step_path(icans, end, scale)}" fill="none" stroke="{ICANS_COLOUR}" '
                    'stroke-width="2" stroke-dasharray="6 4"><title>ICANS grade</title></path>')
    for at, grade in crs:
        body.append(f'<circle cx="{scale.x(at)}" cy="{scale.y(grade)}" r="3.5" fill="{CRS_COLOUR}">'
                    f"<title>{escape(iso(at))}: CRS {grade}</title></circle>")
    lane = HEIGHT - BOTTOM + 34
    for dose in data["doses"]:
        x = scale.x(parse_time(dose["at"]))
        colour = DEVIATION_COLOUR if dose["deviation"] else DOSE_COLOUR
        tip = (f"{dose['at']}: {dose['drug']} {dose['dose_mg']:g} mg" + (" (deviation)" if dose["deviation"] else "")
               + (" (late entry)" if dose.get("late") else "")
               + (f" (corrects #{dose['corrects_seq']})" if dose.get("corrects_seq") else ""))
        body.append(f'<path d="M{x},{lane - 12} L{x - 7},{lane} L{x + 7},{lane} Z" fill="{colour}">'
                    f"<title>{escape(visible(tip))}</title></path>"
                    f'<text x="{x}" y="{lane + 13}" class="mark" text-anchor="middle">'
                    f"{escape(DRUG_MARK.get(dose['drug'], '?'))}</text>")
    for refused in data["refusals"]:
        x = scale.x(max(start, min(parse_time(refused["at"]), end)))
        y = lane + 28
        tip = f"{refused['at']}: refused {refused['kind']} ({', '.join(refused['rules'])})"
        body.append(f'<g stroke="{REFUSED_COLOUR}" stroke-width="2"><line x1="{x - 5}" y1="{y - 5}" x2="{x + 5}" '
                    f'y2="{y + 5}"/><line x1="{x - 5}" y1="{y + 5}" x2="{x + 5}" y2="{y - 5}"/>'
                    f"<title>{escape(visible(tip))}</title></g>")
    body += _not_assessed(data["grades"], scale, lane + 50)
    body.append(_legend())
    return (f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
            f'aria-label="CRS and ICANS grade over time with doses">{"".join(body)}</svg>')


def _not_assessed(grades: list[dict[str, Any]], scale: _Scale, y: float) -> list[str]:
    """A hollow marker for each observation with a grade not assessed, titled with what it lacked."""
    out = []
    for g in grades:
        if g["crs_grade"] is not None and g["icans_grade"] is not None:
            continue
        missing = missing_by_domain(g.get("crs_missing", []), g.get("icans_missing", []))
        tip = (f"{g['at']}: CRS {grade_text(g['crs_grade'])}, ICANS {grade_text(g['icans_grade'])}"
               + (f" (missing {missing})" if missing else ""))
        out.append(f'<circle cx="{scale.x(parse_time(g["at"]))}" cy="{y}" r="4" fill="#fff" '
                   f'stroke="{NOT_ASSESSED_COLOUR}" stroke-width="2" class="not-assessed">'
                   f"<title>{escape(visible(tip))}</title></circle>")
    return out


def _legend() -> str:
    items = [(CRS_COLOUR, "CRS grade", "line"), (ICANS_COLOUR, "ICANS grade", "dash"),
             (DOSE_COLOUR, "dose", "tri"), (DEVIATION_COLOUR, "dose under override", "tri"),
             (REFUSED_COLOUR, "refused", "x"), (NOT_ASSESSED_COLOUR, "not assessed", "ring")]
    x = WIDTH - RIGHT - sum(26 + 7 * len(label) for _, label, _ in items)  # right-aligned, never clipped
    out = []
    for colour, label, shape in items:
        if shape in ("line", "dash"):
            dash = ' stroke-dasharray="6 4"' if shape == "dash" else ""
            out.append(f'<line x1="{x}" y1="14" x2="{x + 18}" y2="14" stroke="{colour}" stroke-width="3"{dash}/>')
        elif shape == "tri":
            out.append(f'<path d="M{x + 9},7 L{x + 2},19 L{x + 16},19 Z" fill="{colour}"/>')
        elif shape == "ring":
            out.append(f'<circle cx="{x + 9}" cy="13" r="4" fill="#fff" stroke="{colour}" stroke-width="2"/>')
        else:
            out.append(f'<g stroke="{colour}" stroke-width="2"><line x1="{x + 4}" y1="9" x2="{x + 14}" y2="19"/>'
                       f'<line x1="{x + 4}" y1="19" x2="{x + 14}" y2="9"/></g>')
        out.append(f'<text x="{x + 22}" y="18" class="tick">{escape(label)}</text>')
        x += 26 + 7 * len(label)
    return "".join(out)
