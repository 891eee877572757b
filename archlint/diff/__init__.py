"""Model diffs: what a change to a model costs, and snapshots of files at git revisions."""
