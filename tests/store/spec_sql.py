"""Reads the SQL out of the spec (``DATABASE_SCHEMA.md``) for the acid test: nothing retyped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = (
    REPO.parent / "shared" / "spec" / "DATABASE_SCHEMA.md",
    Path("/work/shared/spec/DATABASE_SCHEMA.md"),
)


def spec_path() -> Path:
    """The spec beside the checkout (as CI lays it out), else the shared folder."""
    for path in CANDIDATES:
        if path.is_file():
            return path
    raise FileNotFoundError(f"DATABASE_SCHEMA.md not found at any of {CANDIDATES}")


@dataclass(frozen=True)
class Statement:
    section: str  # the headings above it, joined with " / "
    sql: str  # verbatim, comments included, without the trailing semicolon

    @property
    def first_line(self) -> str:
        for line in self.sql.splitlines():
            if line.strip() and not line.strip().startswith("--"):
                return line.strip()
        return ""


def statements(text: str | None = None) -> list[Statement]:
    """Every statement of every ```sql block, with the headings it sits under."""
    if text is None:
        text = spec_path().read_text(encoding="utf-8")
    headings: dict[int, str] = {}
    out: list[Statement] = []
    in_sql = False
    block: list[str] = []
    for line in text.splitlines():
        if not in_sql:
            m = re.match(r"^(#{2,4})\s+(.*)$", line)
            if m:
                level = len(m.group(1))
                headings = {k: v for k, v in headings.items() if k < level}
                headings[level] = m.group(2).strip()
            elif line.strip() == "```sql":
                in_sql, block = True, []
        elif line.strip() == "```":
            in_sql = False
            section = " / ".join(headings[k] for k in sorted(headings))
            for part in "\n".join(block).split(";"):
                # a part that is only comments belongs to the statement after it
                if re.sub(r"--[^\n]*", "", part).strip():
                    out.append(Statement(section, part.strip()))
                elif out and part.strip():
                    pass
        else:
            block.append(line)
    return out
