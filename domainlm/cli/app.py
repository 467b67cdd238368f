"""The `domainlm` command: a thin typer layer over the library.

Each command parses options, calls ONE library function and renders the result with rich. The
root app lives in `domainlm.cli.root`; the command modules below add their commands to it.
"""

from __future__ import annotations

# Every command module, named explicitly (a missing one is an ImportError, not a silently absent command).
from domainlm.cli import corpus, demo, evaluate, finetune, hub, mine, recipe, train, vocab  # noqa: E402,F401,I001
from domainlm.cli.root import app, render_user_error  # noqa: F401


def main() -> None:
    app()


if __name__ == "__main__":
    main()
