"""Command-line edge. Heavy imports (numpy, pydantic, the core) happen inside commands, so
`roofline --help` stays fast."""

from . import help_style as _help_style  # noqa: F401  (flags show no `<bool>` in --help)
