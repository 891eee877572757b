"""The Analysis: a model's costs and, per target, its roofline prediction. Rules and reporters
read it; nothing below the façade builds one by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archlint.analysis.model_cost import ModelCost
from archlint.analysis.roofline import Prediction
from archlint.model.graph import Model


@dataclass(frozen=True)
class Analysis:
    """A model's costs and, per target, the roofline prediction: what rules and reports read."""

    cost: ModelCost
    predictions: tuple[Prediction, ...]
    # Target-independent results rules compute once per model and reuse for every target (AL401's
    # scan of weight values, say); keyed by rule code and options.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def model(self) -> Model:
        return self.cost.model
