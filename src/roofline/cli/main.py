"""`roofline`: the command-line entry point. Every bad input ends as one line on stderr, exit 2."""

from __future__ import annotations

import sys

import typer

try:  # typer ≥ 0.26 carries its own copy of click; older versions use the click package
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_errors

app = typer.Typer(
    name="roofline",
    help="Does an LLM fit, how fast will it serve, and what limits it: first-principles estimates "
    "from the roofline model, with the working shown.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

from . import catalog_cmd, estimate_cmd, formulas_cmd, parallel_cmd, plot_cmd, report_cmd, web_cmd  # noqa: E402  (commands register on `app`)
from . import plan_cmd, prices_cmd  # noqa: E402

for module in (estimate_cmd, parallel_cmd, catalog_cmd, formulas_cmd, plot_cmd, report_cmd, web_cmd):
    module.register(app)
for module in (plan_cmd, prices_cmd):
    module.register(app)
from . import simulate_cmd; simulate_cmd.register(app)  # noqa: E402,E702
from . import analyze_cmd; analyze_cmd.register(app)  # noqa: E402,E702
from . import validate_cmd; validate_cmd.register(app)  # noqa: E402,E702
from . import calibrate_cmd; calibrate_cmd.register(app)  # noqa: E402,E702
from . import measure_cmd; measure_cmd.register(app)  # noqa: E402,E702


def _fail(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    raise SystemExit(2)


def run(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning every user error into one line and exit code 2."""
    from ..errors import RooflineError  # light: no numpy

    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="roofline", standalone_mode=False)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at interpreter exit
    except SystemExit as e:
        if e.code == 1 and _pipe_closed():  # click's answer to a closed pipe is exit 1; ours is a quiet 0
            _quiet_pipe()
        raise
    except RooflineError as e:
        _fail(str(e))
    except getattr(click_errors, "NoArgsIsHelpError", ()):
        pass  # the help text is already printed
    except click_errors.UsageError as e:
        hint = f" (see `roofline {e.ctx.info_name} --help`)" if e.ctx and e.ctx.info_name != "roofline" else ""
        _fail(e.format_message().replace("\n", " ") + hint)
    except click_errors.ClickException as e:
        _fail(e.format_message().replace("\n", " "))
    except typer.Abort:
        _fail("aborted")
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        _quiet_pipe()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None


def _pipe_closed() -> bool:
    """Whether an exit 1 is a library's answer to a closed pipe: click wraps stdout in a
    PacifyFlushWrapper, rich (typer's help) points file descriptor 1 at /dev/null."""
    import os

    if type(sys.stdout).__name__ == "PacifyFlushWrapper":
        return True
    try:
        return os.path.samestat(os.fstat(1), os.stat(os.devnull))
    except OSError:
        return False


def _quiet_pipe() -> None:
    import os

    try:  # the interpreter's final flush of the real stdout must not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    sys.stdout = open(os.devnull, "w")
    raise SystemExit(0)


if __name__ == "__main__":
    run()
