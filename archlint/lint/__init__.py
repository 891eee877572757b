"""Linting: the Rule contract, the rule registry, selection by code and name, the checker that
runs rules on an analysis, suppressions, baselines, and the diagnostics they produce."""
