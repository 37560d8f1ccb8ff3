"""The ``thesis`` command: help lists every subcommand, errors are one line."""

import subprocess
import sys

import pytest

from thesis_lib import cli
from thesis_lib.errors import ConfigError


def subcommand_names() -> list[str]:
    parser = cli.build_parser()
    return sorted(parser._subparsers._group_actions[0].choices)  # noqa: SLF001


def test_the_documented_subcommands_are_registered():
    assert set(subcommand_names()) >= {
        "data", "models", "train", "evaluate", "grid", "pipeline", "demo"}


def test_help_lists_every_registered_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for name in subcommand_names():
        assert name in help_text


@pytest.fixture(scope="module")
def dash_m_help():
    """``python -m thesis_lib --help`` in a fresh interpreter, with the modules it imports
    listed on stderr (``-X importtime``)."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "thesis_lib", "--help"], capture_output=True,
        text=True, check=True,
    )


def test_python_dash_m_is_the_same_command(dash_m_help):
    assert dash_m_help.stdout.startswith("usage: thesis")
    for name in subcommand_names():
        assert name in dash_m_help.stdout


def test_help_does_not_import_tensorflow(dash_m_help):
    imported = [line.rsplit("|", 1)[-1].strip() for line in dash_m_help.stderr.splitlines()
                if line.startswith("import time:")]
    assert "thesis_lib.cli" in imported  # the list is complete enough to be believed
    assert "tensorflow" not in imported and "keras" not in imported


def test_user_errors_are_one_line_with_exit_status_2(capsys, monkeypatch):
    def failing_command(args):
        raise ConfigError("unknown variant 'gramm'; choose one of: baseline, gram, gramnet")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    subparsers = parser._subparsers._group_actions[0]  # noqa: SLF001
    subparsers.add_parser("fail").set_defaults(func=failing_command)
    assert cli.main(["fail"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "unknown variant 'gramm'" in err
