"""archlint's built-in rules: one module per rule, registered through the plugin hooks.

The rule engine and the card's rules (AL1xx-AL5xx) arrive with ``archlint check``; this package
is part of the installed layout so that third-party code can rely on it existing.
"""
