"""Tables the analyze, profile and hardware commands print: renderers, not output-format plugins."""
