"""`roofline web`: serve the calculator page and the JSON API (localhost unless told otherwise)."""

from __future__ import annotations

from typing import Annotated

import typer

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def register(app: typer.Typer) -> None:
    @app.command(help="Serve the web calculator and the JSON API (docs at /docs) on this machine.")
    def web(
        host: Annotated[str, typer.Option("--host", help="Address to listen on; 127.0.0.1 keeps it to this machine.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    ) -> None:
        from ..errors import RooflineError

        if not 1 <= port <= 65535:
            raise RooflineError(f"--port must be in 1..65535, got {port}")
        try:
            import uvicorn

            from ..web.app import create_app
        except ImportError as e:
            raise RooflineError(f"the web calculator needs {e.name}: pip install 'roofline[web,plot]'") from None
        _check_free(host, port)  # first: an unknown host or a busy port is one line, with no warning before it
        if host not in LOOPBACK:
            typer.echo(f"warning: listening on {host}: anyone who can reach this address can use the calculator", err=True)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"roofline web: http://{shown}:{port}/  (API docs: http://{shown}:{port}/docs; Ctrl-C stops)")
        # on localhost, answer only requests addressed to localhost: DNS rebinding sends a foreign Host
        allowed = (*LOOPBACK, host) if host in LOOPBACK else None
        uvicorn.run(create_app(allowed_hosts=allowed), host=host, port=port, log_level="warning")


def _check_free(host: str, port: int) -> None:
    """Fail with one line (uvicorn would log and exit 1) when the address cannot be bound."""
    import socket

    from ..errors import RooflineError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise RooflineError(f"--host {host}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise RooflineError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
