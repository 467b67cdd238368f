"""The help reads like a standard CLI: flags take no placeholder, shell completion is offered."""

from __future__ import annotations

import re

import pytest

COMMANDS = [["adapt"], ["pretrain"], ["mine-terms"], ["evaluate"], ["demo"], ["corpus", "stats"],
            ["corpus", "clean"], ["vocab", "build"], ["vocab", "fill"], ["recipe", "run"], ["split-categories"]]


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
