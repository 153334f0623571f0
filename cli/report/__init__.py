"""`crs audit report`: assemble one episode's QA facts (data.py), render them as md, html or json."""

import json
from typing import Any

from cli.report.data import assemble


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        from cli.text import visible_json

        return visible_json(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"  # nothing raw for a terminal
    if fmt == "html":
        from cli.report.html import render_html

        return render_html(data)
    from cli.report.markdown import render_markdown

    return render_markdown(data)


__all__ = ["assemble", "render"]
