"""Numeric bounds for the schemas' fields, written in their annotations:
``Annotated[float, Bounds(gt=0, le=1)]``.

pydantic checks them when a file is validated (it calls ``__get_pydantic_core_schema__``), with
its own messages ("Input should be greater than 0"); defining them here rather than with
``pydantic.Field`` or ``annotated_types`` keeps both out of the import of a schema module, which
every run pays while only runs that read a file validate one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema


class Bounds:
    """Lower and upper bounds of a number: greater than ``gt``, at least ``ge``, at most ``le``,
    less than ``lt``."""

    def __init__(
        self,
        *,
        gt: float | None = None,
        ge: float | None = None,
        le: float | None = None,
        lt: float | None = None,
    ) -> None:
        self.limits = {
            key: value for key, value in (("gt", gt), ("ge", ge), ("le", le), ("lt", lt)) if value is not None
        }

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # The float and int schemas take these keys (gt, ge, le, lt) themselves.
        schema: CoreSchema = {**handler(source), **self.limits}
        return schema

    def __repr__(self) -> str:
        return f"Bounds({', '.join(f'{key}={value}' for key, value in self.limits.items())})"
