"""`python -m ssa` is the `ssa` command."""

from ssa.cli import main

main()
