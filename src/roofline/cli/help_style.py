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
