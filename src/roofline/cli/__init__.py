"""Command-line edge. Heavy imports (numpy, pydantic, the core) happen inside commands, so
`roofline --help` stays fast."""
