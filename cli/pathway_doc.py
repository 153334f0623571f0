"""Regenerate pathway/described.py, the frozen copy of the pathway that `crs pathway` prints.

    make pathway-doc      (or: .venv/bin/python -m cli.pathway_doc)

Writes only when the text changed, so an unchanged pathway leaves the file (and its bytecode) alone.
"""

from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "pathway" / "described.py"


def main() -> None:
    from pathway.describe import generated_module

    text = generated_module()
    if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET}")
    else:
        print(f"{TARGET} is up to date")


if __name__ == "__main__":
    main()
