"""The one error type a user can cause. The CLI turns it into one line on stderr and exit code 2."""

from __future__ import annotations


class RooflineError(ValueError):
    """Bad input: unknown name, impossible size or split, malformed config, unsupported dtype."""
