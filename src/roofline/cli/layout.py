"""Terminal layout: a console as wide as the reader's terminal, and tables that never cut a word.

Rich cuts a cell with "…" when a table is wider than the terminal and a word cannot wrap. The
commands avoid that by offering a wide layout and a narrow one (stacked or transposed) and
printing the first whose natural width fits; the narrow layouts are built to fit 80 columns.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def console() -> Console:
    """A console for one command. Width: $COLUMNS, else the terminal's, else 80 (rich's rule)."""
    return Console(highlight=False)


def table(*columns: str, right: tuple[str, ...] = (), title: str | None = None, header: bool = True) -> Table:
    """A compact table (two spaces between columns, none at the edges); `right` columns are numbers."""
    t = Table(box=box.SIMPLE_HEAD if header else None, show_header=header, pad_edge=False, padding=(0, 1),
              title=title, title_justify="left", collapse_padding=header)
    for col in columns:
        # fold, never "…": should a word still not fit, it breaks across lines with every character kept
        t.add_column(col, justify="right" if col in right else "left", overflow="fold")
    return t


def natural_width(con: Console, renderable) -> int:
    """Columns the renderable takes when nothing wraps."""
    return Measurement.get(con, con.options.update_width(100_000), renderable).maximum


def fits(con: Console, renderable) -> bool:
    return natural_width(con, renderable) <= con.width


def chunks_that_fit(con: Console, items: list, build) -> list[list]:
    """Split `items` into consecutive groups, each as large as fits: build(group) must fit the console."""
    groups, start = [], 0
    while start < len(items):
        end = len(items)
        while end > start + 1 and not fits(con, build(items[start:end])):
            end -= 1
        groups.append(items[start:end])
        start = end
    return groups


def say(con: Console, text: str, indent: int = 2, **kwargs) -> None:
    """One paragraph, indented, its wrapped lines indented too (so they do not run into the next)."""
    from rich.padding import Padding

    con.print(Padding(text if kwargs.get("markup", True) else _plain(text), (0, 0, 0, indent)))


def _plain(text: str):
    from rich.text import Text

    return Text(text)
