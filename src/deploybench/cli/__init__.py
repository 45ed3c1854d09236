"""The `deploybench` command line: thin typer commands over the library."""
