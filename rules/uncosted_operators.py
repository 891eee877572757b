"""AL002 uncosted-operators."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from pydantic import Field

from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, RuleOptions, severity_by_kind


class UncostedOperatorsOptions(RuleOptions):
    max_named: int = Field(
        5, ge=1, description="How many operator types the message names, most frequent first."
    )


class UncostedOperators(Rule):
    """## What it does
    Reports a model with operators archlint could not cost: an operator type it has no cost model
    for (a custom domain, say), or one whose input shapes stayed unknown (an input dimension the
    model computes at run time, an If whose condition depends on data). The finding gives how
    many of the model's operators were costed and names the operator types left out, with the
    reason for the first of each.

    ## Why is this bad?
    An operator without a cost is not counted as zero silently: every total archlint reports for
    the model (FLOPs, bytes, latency, throughput) is then a lower bound, and every rule judged
    shares of a latency that is too small. A model whose detection head or recurrent layer could
    not be read would otherwise pass a CI gate that it only half checked. The finding is an error
    so that CI fails until the model is read completely or the gap is accepted on purpose.

    ## Example
    ```sh
    archlint check vad.onnx            # an If on the sample rate: its branch is known only at run time
    ```

    ## Use instead
    ```sh
    archlint check vad.onnx --value sr=16000 --input x=1x512
    ```
    Give the values and shapes that decide control flow (`--value`, `--input`, `--dim`). An
    operator of a custom domain has no cost model: to accept the incomplete analysis on purpose,
    ignore the code (`--ignore AL002`, or `ignore-nodes` in the configuration for those nodes).

    ## Options
    (written from the options model)

    ## References
    - docs/analyze.md: how shapes, values and control flow are resolved.
    """

    code = "AL002"
    name = "uncosted-operators"
    summary = "operators with no cost: the model's totals are lower bounds"
    severity = severity_by_kind(
        gpu=Severity.ERROR, cpu=Severity.ERROR, npu=Severity.ERROR, other=Severity.ERROR
    )
    options_type = UncostedOperatorsOptions
    options: UncostedOperatorsOptions

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        unknown = ctx.cost.unknown_ops
        # Completeness belongs to the model, not to a target: said once, on the first target.
        if not unknown or ctx.analysis.predictions[0] is not ctx.prediction:
            return
        kinds = Counter(f"{u.domain}::{u.op_type}" if u.domain else u.op_type for u in unknown)
        named = [f"{count} {kind}" for kind, count in kinds.most_common(self.options.max_named)]
        more = len(kinds) - len(named)
        first = unknown[0]
        yield Finding(
            node=first.name,
            message=(
                f"{len(ctx.cost.nodes)} of {ctx.cost.operator_count} operators costed: "
                f"{', '.join(named)}{f' and {more} more types' if more > 0 else ''} have no cost "
                f"(first: {first.name!r}, {first.reason}), so every total is a lower bound."
            ),
            fix=(
                "bind the inputs that decide shapes and control flow (--input, --dim, --value); "
                "for a custom operator, --ignore AL002 accepts the gap."
            ),
        )
