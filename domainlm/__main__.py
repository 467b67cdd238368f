"""`python -m domainlm` runs the CLI (same as the `domainlm` command)."""

from domainlm.cli.app import main

main()
