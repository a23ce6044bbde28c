"""--help tweaks on top of typer's rich help.

typer 0.2x prints a value type beside every option, `<bool>` included, which tells a reader that
`--ideal` takes a value when it takes none. A flag's type column stays empty here.
"""

from __future__ import annotations

try:
    from typer.core import TyperOption
except ImportError:  # pragma: no cover - a typer without this class prints no `<bool>` either
    TyperOption = None

if TyperOption is not None and hasattr(TyperOption, "display_type_rich"):
    _typed = TyperOption.display_type_rich

    def _display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) else _typed(self, ctx)

    TyperOption.display_type_rich = _display_type_rich


def _fold_help_tables() -> None:
    """Help tables fold a long option name onto a second line instead of cutting it with "…"
    (a command with many options, some with a long `--no-…` form, squeezes the name columns at 80)."""
    try:
        from rich.table import Table
        from typer import rich_utils
    except ImportError:  # pragma: no cover
        return

    from rich.text import Text

    def fold(renderable):
        if isinstance(renderable, Text):
            renderable.overflow = "fold"
        for inner in getattr(renderable, "renderables", ()) or ():
            fold(inner)
        return renderable

    class FoldingTable(Table):
        def add_row(self, *renderables, **kwargs):
            super().add_row(*(fold(r) for r in renderables), **kwargs)
            for column in self.columns:
                column.overflow = "fold"

    if getattr(rich_utils, "Table", None) is Table:
        rich_utils.Table = FoldingTable


_fold_help_tables()
