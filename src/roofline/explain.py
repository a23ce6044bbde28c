"""The explain trace: every figure with its formula and the numbers substituted.

A step reads like `weights = params × bytes/param = 6.74e9 × 2 B = 13.5 GB`.
Steps are recorded only when a trace is requested, so plain estimates stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    section: str
    name: str
    formula: str
    substituted: str
    result: str

    def line(self) -> str:
        if self.substituted:
            return f"{self.name} = {self.formula} = {self.substituted} = {self.result}"
        return f"{self.name} = {self.formula} = {self.result}"


@dataclass
class Trace:
    steps: list[Step] = field(default_factory=list)
    section: str = ""

    def begin(self, section: str) -> None:
        self.section = section

    def add(self, name: str, formula: str, substituted: str, result: str) -> None:
        self.steps.append(Step(self.section, name, formula, substituted, result))

    def note(self, text: str) -> None:
        self.steps.append(Step(self.section, "note", text, "", ""))

    def sections(self) -> dict[str, list[Step]]:
        out: dict[str, list[Step]] = {}
        for s in self.steps:
            out.setdefault(s.section, []).append(s)
        return out

    def to_list(self) -> list[dict]:
        return [
            {"section": s.section, "name": s.name, "formula": s.formula, "substituted": s.substituted, "result": s.result}
            for s in self.steps
        ]

    def render(self) -> str:
        lines: list[str] = []
        for section, steps in self.sections().items():
            lines.append(f"[{section}]")
            for s in steps:
                lines.append(("  note: " + s.formula) if s.name == "note" else "  " + s.line())
        return "\n".join(lines)
