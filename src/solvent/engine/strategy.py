"""The ``Strategy`` base class: parameters as class attributes, callbacks per bar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from solvent.errors import InvalidInputError

if TYPE_CHECKING:
    from solvent.data.frame import BarData
    from solvent.engine.context import Context
    from solvent.model.orders import Rejection
    from solvent.model.records import Fill
    from solvent.risk.monitor import MarginEvent


class ParameterError(InvalidInputError):
    """A run names a parameter the strategy does not declare (``field`` is its name)."""


def _is_parameter(name: str, value: object) -> bool:
    if name.startswith("_"):
        return False
    return not (callable(value) or isinstance(value, (property, classmethod, staticmethod)))


class Strategy:
    """Base class of event-driven strategies.

    Parameters are plain class attributes (``fast = 10``); ``backtest(..., fast=20)``
    overrides them for one run on the instance (the class is never changed). A name
    the class does not declare raises ``ParameterError``.

    Callbacks, in the order the engine calls them:

    * ``init(data)``: once, before the first bar, with the whole ``BarData``; compute
      indicators here, vectorized, and index them by ``ctx.i`` in ``on_bar``;
    * ``on_start(ctx)``: once, before the first bar (no prices yet: ``ctx.i == -1``);
    * per timestamp, after the broker processed the bar: ``on_fill(ctx, fill)`` for each
      fill of that bar, ``on_reject(ctx, rejection)`` for each refusal,
      ``on_margin_call(ctx, event)`` for each change of margin band or trading state,
      then ``on_bar(ctx)``: one call sees every symbol; orders placed there can fill
      from the next bar;
    * ``on_end(ctx)``: once, after the last bar (orders placed there never fill).
    """

    #: Names of the parameters, filled in for each subclass.
    parameters: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: dict[str, None] = {}
        for klass in reversed(cls.__mro__):
            if klass is Strategy or not issubclass(klass, Strategy):
                continue
            for name, value in vars(klass).items():
                if name != "parameters" and _is_parameter(name, value):
                    names[name] = None
        cls.parameters = tuple(names)

    def __init__(self, **params: Any) -> None:
        self.set_params(params)

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Override parameters on this instance; raise ``ParameterError`` on unknown names."""
        for name, value in params.items():
            if name not in self.parameters:
                known = ", ".join(self.parameters) or "none"
                raise ParameterError(
                    name, value, f"is not a parameter of {type(self).__name__} (parameters: {known})"
                )
            setattr(self, name, value)

    @property
    def params(self) -> dict[str, Any]:
        """Return the parameters in force on this instance."""
        return {name: getattr(self, name) for name in self.parameters}

    def init(self, data: BarData) -> None:
        """Precompute over the whole panel (vectorized); called once before the run."""

    def on_start(self, ctx: Context) -> None:
        """Run once before the first bar."""

    def on_bar(self, ctx: Context) -> None:
        """React to one timestamp's bars (all symbols); override this."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """React to one fill (a leg: a fill crossing zero arrives as two legs)."""

    def on_reject(self, ctx: Context, rejection: Rejection) -> None:
        """React to a refusal (at placement, or a part that could not fill)."""

    def on_margin_call(self, ctx: Context, event: MarginEvent) -> None:
        """React to a change of margin band or trading state (``docs/margin.md``).

        ``event.kind`` is ``"margin"`` (``event.to`` is ``healthy``, ``at_risk``,
        ``margin_call`` or ``liquidating``) or ``"trading_state"`` (``active``,
        ``reduce_only``, ``halted``). In a margin call only orders that reduce exposure
        are accepted; a call still there at the next bar's check is liquidated.
        """

    def on_end(self, ctx: Context) -> None:
        """Run once after the last bar."""
