"""What a model costs and how long it takes: cost handlers per operator family (costs/), the
whole model's cost and memory, the roofline prediction per target, blocked-layout conversions,
and the Analysis that rules and reports read."""
