"""AL303 unfused-patterns."""

from __future__ import annotations

from collections.abc import Iterator

from archlint.analysis.model_cost import NodeCost
from archlint.analysis.whatif import cost_alternative
from archlint.lint.diagnostics import Finding, Severity
from archlint.lint.rule import Rule, RuleContext, severity_by_kind
from archlint.model.graph import Node, Tensor
from archlint.units import percent, seconds, size

from ._graph import constant_tensors, from_pytorch, sole_reader

_CHANNEL_AXIS = {"Conv": 1, "Gemm": -1, "MatMul": -1}  # of the output: where one weight row lands
_SCALES = frozenset({"Mul", "Div"})
_SHIFTS = frozenset({"Add", "Sub"})


class UnfusedPatterns(Rule):
    """## What it does
    Finds operators left in the graph that fold into the operator before them: a
    BatchNormalization, or a Mul, Div, Add or Sub by a per-channel constant, after a Conv, Gemm
    or MatMul with constant weights (a MatMul followed by a constant bias Add is one Gemm); and
    `x * Sigmoid(x)` computed as two operators. One finding per instance, naming its nodes.

    ## Why is this bad?
    At inference BatchNormalization is a per-channel scale and shift. Folded into the conv's
    weights and bias (`W' = W * gamma / sqrt(var + eps)`) it costs nothing; left in the graph it
    is one more memory-bound pass over the conv's output. For a 1x64x112x112 fp32 output that is
    6.4 MB of traffic: 3.1 µs at the A100's 2.04 TB/s plus a 4 µs launch, 0.38 ms on the
    cortex-a76 profile.
    Constant scales and bias adds after a linear operator are the same case. Engines that fold
    at load time (onnxruntime's graph optimizations, TensorRT) hide the cost; others, and the
    roofline here, run the graph as written. `x * Sigmoid(x)` as two operators also writes the
    sigmoid output, a second copy of `x` that stays alive until the Mul runs: more traffic, a
    higher peak memory and a smaller batch at a full device.

    ## Example
    ```python
    nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64))  # exported unfolded
    y = x * torch.sigmoid(x)
    ```

    ## Use instead
    ```python
    conv = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)  # before export
    y = F.silu(x)  # exported as one Swish (opset 24) where the engine has it
    ```
    or fold the exported graph with `onnxslim` / onnxsim. `archlint fix` folds a
    BatchNormalization into the Conv before it (a safe fix, verified with onnxruntime); the other
    patterns are fixed in the model definition or by those tools.

    ## Options
    (written from the options model)

    ## References
    - S. Ioffe and C. Szegedy, "Batch Normalization", ICML 2015 (the inference-time affine form).
    - PyTorch, `torch.nn.utils.fusion.fuse_conv_bn_eval`; ONNX operators Gemm and Swish.
    - Wang Jinwei (Momenta), "让深度学习更高效运行的两个视角" (talk write-up by 量子位): fusions
      that remove memory round trips (Conv+Bias+ReLU, BatchNorm folded into Conv).
    - "FLOPs低,模型速度不一定快" (blog post, 2020-07-04): an `x * sigmoid(x)` that keeps an
      extra copy of the tensor raises peak memory and lowers the batch that fits.
    """

    code = "AL303"
    name = "unfused-patterns"
    summary = "BatchNormalization, constant scales and bias adds, and x * sigmoid(x) left unfused"
    severity = severity_by_kind(
        gpu=Severity.WARNING, cpu=Severity.WARNING, npu=Severity.INFO, other=Severity.INFO
    )
    fix_applicability = "safe"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        constants = constant_tensors(ctx)
        for node in ctx.cost.nodes:
            found = _folding(ctx, node, constants) or _two_op_swish(ctx, node)
            if found is not None:
                yield found


def _folding(ctx: RuleContext, host: NodeCost, constants: frozenset[str]) -> Finding | None:
    if host.op_type not in _CHANNEL_AXIS or host.node.input(1) not in constants:
        return None
    out = ctx.cost.model.graph.tensor(host.node.outputs[0])
    shape = out.static_shape if out is not None else None
    if out is None or not shape:
        return None
    axes = (len(shape), _CHANNEL_AXIS[host.op_type] % len(shape))
    run: list[NodeCost] = []
    name = host.node.outputs[0]
    while (reader := sole_reader(ctx, name)) is not None and _folds(ctx, reader, name, axes, constants):
        run.append(reader)
        name = reader.node.outputs[0]
    return _folding_finding(ctx, host, run, out.dtype.nbytes(shape[axes[1]])) if run else None


def _folds(
    ctx: RuleContext, node: NodeCost, name: str, axes: tuple[int, int], constants: frozenset[str]
) -> bool:
    """Whether ``node``, reading ``name``, is a per-channel scale or shift of it by constants."""
    rank, channel = axes
    if node.op_type == "BatchNormalization":  # normalizes axis 1; training mode has more outputs
        single = len([o for o in node.node.outputs if o]) == 1
        return channel == 1 and single and all(i in constants for i in node.node.inputs[1:5])
    if node.op_type not in _SCALES | _SHIFTS or len(node.node.inputs) != 2:
        return False
    first, second = node.node.inputs
    if node.op_type in ("Div", "Sub") and first != name:  # c / x is not affine in x
        return False
    other = second if first == name else first
    return other in constants and _per_channel(ctx.cost.model.graph.tensor(other), rank, channel)


def _per_channel(tensor: Tensor | None, rank: int, channel: int) -> bool:
    """Whether a constant broadcasts over everything but the channel axis (one value per row)."""
    shape = tensor.static_shape if tensor is not None else None
    if shape is None or len(shape) > rank:
        return False
    aligned = (1,) * (rank - len(shape)) + shape
    return all(dim == 1 for axis, dim in enumerate(aligned) if axis != channel)


def _folding_finding(
    ctx: RuleContext, host: NodeCost, run: list[NodeCost], bias_bytes: int
) -> Finding | None:
    spent = sum(ctx.time(n) for n in run)
    folded_host = _with_bias(ctx, host, bias_bytes)
    if folded_host is None:
        return None
    saving = ctx.saving_by([host, *run], [folded_host])
    pattern = " -> ".join(f"{n.op_type} {n.name!r}" for n in (host, *run))
    folded = ", ".join(repr(n.name) for n in run)
    extra = f"{len(run)} more operator{'s' if len(run) > 1 else ''}"
    message = (
        f"{pattern}: a per-channel scale and shift by constants that folds into the {host.op_type}, left "
        f"as {extra} taking {seconds(spent)} ({percent(spent, ctx.latency_s)} of the predicted latency "
        f"on {ctx.profile.name})."
    )
    bn_after_conv = host.op_type == "Conv" and [n.op_type for n in run] == ["BatchNormalization"]
    if host.op_type == "MatMul" and [n.op_type for n in run] == ["Add"]:
        fix = f"replace the MatMul and its bias Add {folded} by one Gemm (or a fused bias epilogue)"
    elif bn_after_conv and from_pytorch(ctx):
        fix = (
            "export the model in eval mode (model.eval()), where the exporter folds BatchNorm into the "
            "conv, or fold it first with torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)"
        )
    else:
        fix = f"fold {folded} into {host.name!r}: W' = W * scale, b' = b * scale + shift per output channel"
        if bn_after_conv:
            fix += " (`archlint fix` does this)"
    touched = tuple(n.name for n in (host, *run))
    return Finding(
        node=run[0].name,
        message=message,
        fix=f"{fix}, saving {seconds(saving or 0.0)}.",
        saving_s=saving,
        touched=touched,
    )


def _with_bias(ctx: RuleContext, host: NodeCost, bias_bytes: int) -> NodeCost | None:
    """The host with the folded scale and shift: same weights, and a bias if it had none."""
    if host.node.input(2):
        return host
    out = ctx.cost.model.graph.tensor(host.node.outputs[0])
    if out is None:
        return None
    channels = bias_bytes * 8 // out.dtype.bits
    return ctx.alternative(host, inputs=[Tensor(f"{host.name}/folded_bias", out.dtype, (channels,))])


def _two_op_swish(ctx: RuleContext, mul: NodeCost) -> Finding | None:
    if mul.op_type != "Mul" or len(mul.node.inputs) != 2:
        return None
    first, second = mul.node.inputs
    for x, gate in ((first, second), (second, first)):
        sigmoid = ctx.producers.get(gate)
        if sigmoid is None or sigmoid.op_type != "Sigmoid" or sole_reader(ctx, gate) is not mul:
            continue
        if sigmoid.node.inputs[0] == x:
            return _swish_finding(ctx, mul, sigmoid)
    return None


def _swish_finding(ctx: RuleContext, mul: NodeCost, sigmoid: NodeCost) -> Finding | None:
    if from_pytorch(ctx) or not _runs(ctx, "Swish"):
        # torch exports nn.SiLU as Sigmoid and Mul at every opset, and a toolchain without a
        # one-operator SiLU cannot take the fix: there is nothing to offer.
        return None
    spent = ctx.time(sigmoid) + ctx.time(mul)
    graph = ctx.cost.model.graph
    x, y = graph.tensor(sigmoid.node.inputs[0]), graph.tensor(mul.node.outputs[0])
    if x is None or y is None:
        return None
    swish = Node(mul.name, "Swish", "", (x.name,), (y.name,))
    fused = cost_alternative([swish], [x, y], repeats=mul.repeats)
    saving = ctx.saving_by([sigmoid, mul], fused)
    copy = sigmoid.bytes_written // sigmoid.repeats
    message = (
        f"Mul {mul.name!r} computes x * Sigmoid(x) with Sigmoid {sigmoid.name!r} as a second operator: "
        f"its {size(copy)} output is another copy of x, written, kept alive until the Mul runs (raising "
        f"peak memory) and read back; the pair takes {seconds(spent)} on {ctx.profile.name}."
    )
    fix = f"compute SiLU as one operator (ONNX Swish, opset 24), saving {seconds(saving or 0.0)}."
    return Finding(node=mul.name, message=message, fix=fix, saving_s=saving, touched=(sigmoid.name, mul.name))


def _runs(ctx: RuleContext, op_type: str) -> bool:
    """Whether the target's toolchain has ``op_type`` (profiles without an operator list: all)."""
    supported = ctx.profile.supported_ops
    return supported is None or op_type in supported
