"""LSTM, GRU and RNN over every time step and direction.

Per step, direction and batch row, with H the hidden size and I the input size:
  gate matrix products: 2 * G * H * (I + H) FLOPs (G = 4 gates for LSTM, 3 for GRU, 1 for RNN)
  pointwise work per hidden unit: LSTM 17 (8 bias adds, 3 sigmoid, 2 tanh, 4 products/sums),
  GRU 13 (6 bias adds, 2 sigmoid, 1 tanh, 4 products/sums), RNN 3 (2 bias adds, 1 tanh).
The input projection runs for all steps at once, but each step needs the previous step's hidden
state: the recurrent weights R are read again every step (steps - 1 re-reads of R).
onnxruntime's DynamicQuantizeLSTM stores W as (directions, I, 4H), transposed from ONNX's
(directions, 4H, I), and multiplies in int8.
"""

from __future__ import annotations

from archlint.analysis.costs.context import CostContext
from archlint.analysis.costs.families import Handler
from archlint.analysis.costs.record import OpClass, OpCost
from archlint.model.graph import Node


def recurrent(
    gates: int, pointwise_per_unit: int, transposed: bool = False, compute_dtype: str | None = None
) -> Handler:
    def handler(node: Node, ctx: CostContext) -> OpCost:
        x_shape = ctx.shape(node.inputs[0])
        w_shape = ctx.shape(node.inputs[1])  # (directions, G*H, I), or (directions, I, G*H) transposed
        batch_first = int(node.attr("layout", 0)) == 1
        steps, batch = (x_shape[1], x_shape[0]) if batch_first else (x_shape[0], x_shape[1])
        gate_width, inputs = (w_shape[2], w_shape[1]) if transposed else (w_shape[1], w_shape[2])
        directions, hidden = w_shape[0], gate_width // gates
        per_row = 2 * gates * hidden * (inputs + hidden) + pointwise_per_unit * hidden
        flops = directions * steps * batch * per_row
        recurrent_weights = ctx.nbytes(node.inputs[2])
        return OpCost(
            flops,
            OpClass.RECURRENT,
            (inputs, gates * hidden),
            ("input size", "gate width"),
            reread_bytes=max(steps - 1, 0) * recurrent_weights,
            reread_set_bytes=recurrent_weights,
            compute_dtype=compute_dtype,
        )

    return handler


lstm = recurrent(gates=4, pointwise_per_unit=17)
gru = recurrent(gates=3, pointwise_per_unit=13)
rnn = recurrent(gates=1, pointwise_per_unit=3)
dynamic_quantize_lstm = recurrent(gates=4, pointwise_per_unit=17, transposed=True, compute_dtype="int8")
