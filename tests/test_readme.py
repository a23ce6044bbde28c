"""The README's example outputs are what the commands print today (at 80 columns)."""

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```console\n\$ roofline (.*?)\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("command,shown", BLOCKS, ids=[c for c, _ in BLOCKS])
def test_example_output_is_current(command, shown):
    result = CliRunner().invoke(app, shlex.split(command), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    printed = [line.rstrip() for line in result.output.rstrip("\n").split("\n")]
    assert printed == shown.rstrip("\n").split("\n")
