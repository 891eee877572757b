"""Hardware targets: the HardwareProfile model (a YAML schema with sources for every figure) and
the registry that resolves names, aliases and paths to profiles."""
