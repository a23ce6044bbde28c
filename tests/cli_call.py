"""Run the command line in-process and check its exit code (shared by the CLI tests)."""

from roofline.cli.main import run as cli


def call(capsys, *args, rc=0):
    try:
        cli(list(args))
        code = 0
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    assert code == rc, (code, out.out[-1500:], out.err[-1500:])
    return out
