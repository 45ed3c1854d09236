"""`python -m deploybench.cli` runs the command line."""

from deploybench.cli.app import main

main()
