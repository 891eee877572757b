"""What a check reports: immutable diagnostics with their severity and source location."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from archlint.lint.severity import Severity as Severity  # re-exported: rules and reporters import it here


@dataclass(frozen=True, slots=True)
class Location:
    """A line in a source file (a model definition); ONNX nodes have none."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Place:
    """One operator a diagnostic is about, and its source line when the model has one."""

    node: str | None
    location: Location | None = None
    related: tuple[Location, ...] = ()  # other lines the operator comes from (a folded BatchNorm)


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule yields: the engine adds the code, name, severity, target and model path.

    A finding about time gives ``saving_s``, what its fix saves: the predicted latency of the model
    with that one change applied, subtracted from today's. The engine drops such a finding when
    its fix saves nothing (the alternative is no faster) and lowers it to info when it saves less
    than the configured share of the latency. A finding with no saving (None: the model cannot
    run, an operator has no cost) is reported at its severity.
    """

    node: str | None  # the node the finding is about; None for whole-model findings
    message: str  # what is wrong, with the numbers that make it true
    fix: str  # a concrete change
    saving_s: float | None = None  # predicted time the fix saves on the target, from re-costing
    severity: Severity | None = None  # overrides the rule's severity for this target class
    # The operators whose predicted time the fix changes (default: ``node``); fixes that touch
    # disjoint operators add up, fixes on the same operator do not.
    touched: tuple[str, ...] | None = None
    # False: the saving is an estimate of time the roofline prediction does not contain (a slow
    # path the roofline cannot see); it is reported but kept out of the latency after fixes.
    in_latency: bool = True
    # Why the advice does not apply here although the pattern matched (a width the task fixes):
    # such findings are shown only on request (``--show-exempt``).
    exempt: str | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    name: str
    severity: Severity
    target: str
    path: str
    node: str | None
    message: str
    fix: str
    saving_s: float  # for every place together
    location: Location | None = None
    related: tuple[Location, ...] = ()  # secondary lines of ``location``'s operator
    # The same finding on structurally identical operators: one diagnostic, several places.
    repeats: tuple[Place, ...] = ()
    touched: frozenset[str] = frozenset()
    in_latency: bool = True

    @property
    def places(self) -> tuple[Place, ...]:
        return (Place(self.node, self.location, self.related), *self.repeats)

    def at_each_place(self) -> Iterator[Diagnostic]:
        """One diagnostic per place, for outputs that annotate lines (SARIF, review comments)."""
        if not self.repeats:
            yield self
            return
        share = self.saving_s / len(self.places)  # identical operators save the same each
        for place in self.places:
            yield replace(
                self,
                node=place.node,
                location=place.location,
                related=place.related,
                repeats=(),
                saving_s=share,
            )
