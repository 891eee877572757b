"""Per-operator cost model: a table of pure handlers from op type to FLOPs and data volume."""
