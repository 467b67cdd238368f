"""The help reads like a standard CLI: flags take no placeholder, shell completion is offered."""

from __future__ import annotations

import re

import pytest

COMMANDS = [
    ["adapt"],
    ["pretrain"],
    ["mine-terms"],
    ["evaluate"],
    ["demo"],
    ["corpus", "stats"],
    ["corpus", "clean"],
    ["vocab", "build"],
    ["vocab", "fill"],
    ["recipe", "run"],
    ["split-categories"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_flags_show_no_value_placeholder(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    # Options that do take a value still say what kind.
    assert re.search(r"<(str|int|float|path|list\[str\])>|<[a-z|-]+>", result.output), result.output


def test_shell_completion_is_available(cli):
    result = cli("--help")
    assert "--install-completion" in result.output and "--show-completion" in result.output


def _every_command(group, path=()):
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            yield from _every_command(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_option_name_is_whole_at_80_columns_and_h_is_help(monkeypatch):
    """Issue 25: `--heldout-fracti…`, `--limit-alphab…` at 80 columns; `-h` was "No such option"."""
    import typer
    from typer.testing import CliRunner

    from domainlm.cli.app import app

    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()
    group = typer.main.get_command(app)
    checked = 0
    for path, command in _every_command(group):
        result = runner.invoke(app, [*path, "-h"], env={"COLUMNS": "80", "TERM": "xterm"})
        assert result.exit_code == 0, (path, result.output)
        names = [o for p in command.params if not p.hidden for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]
        for name in names:
            assert re.search(rf"{re.escape(name)}(?![\w-])", result.output), (path, name)
        assert max(len(line) for line in result.output.splitlines()) <= 80
        checked += 1
    assert checked >= 25


def test_task_options_complete_the_built_in_names():
    """Issue 25: `--task <TAB>` offered nothing; it completes the built-in tasks (finetune) and probes (evaluate)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
            "_DOMAINLM_COMPLETE": "complete_bash",
        }
        script = Path(sys.executable).with_name("domainlm")  # completion is keyed on the program's name
        return subprocess.run([str(script)], env=env, capture_output=True, text=True).stdout.split()

    assert complete("domainlm finetune m --task ko") == ["kornli", "korsts"]
    assert {"nsmc", "klue-ner", "shopping-rating"} <= set(complete("domainlm finetune m --task "))
    assert complete("domainlm evaluate --task sh") == ["shopping"]
