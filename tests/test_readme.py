"""The README's example outputs are what the commands print today (at 80 columns).

When a change alters what a command prints, rewrite the examples with
`ROOFLINE_UPDATE_README=1 pytest tests/test_readme.py` and read the diff.
"""

import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE = re.compile(r"```console\n\$ roofline (.*?)\n(.*?)```", re.S)
BLOCKS = EXAMPLE.findall(README.read_text(encoding="utf-8"))


def printed(command: str) -> list[str]:
    result = CliRunner().invoke(app, shlex.split(command), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return [line.rstrip() for line in result.output.rstrip("\n").split("\n")]


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("command,shown", BLOCKS, ids=[c for c, _ in BLOCKS])
def test_example_output_is_current(command, shown):
    if os.environ.get("ROOFLINE_UPDATE_README"):
        text = README.read_text(encoding="utf-8")
        new = "```console\n$ roofline " + command + "\n" + "\n".join(printed(command)) + "\n```"
        README.write_text(text.replace(f"```console\n$ roofline {command}\n{shown}```", new), encoding="utf-8")
        return
    assert printed(command) == shown.rstrip("\n").split("\n"), \
        "README example out of date: ROOFLINE_UPDATE_README=1 pytest tests/test_readme.py rewrites it"
