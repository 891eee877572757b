"""One module per command; ``archlint.cli`` parses arguments and dispatches here."""
