"""The ``solvent`` command line."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from solvent import __version__

if TYPE_CHECKING:
    from solvent.execution.costs import CommissionModel, SlippageModel
    from solvent.risk.monitor import MarginBands


def _decimal(text: str) -> Decimal:
    """Parse a finite decimal flag value (argparse reports anything else as a usage error)."""
    try:
        d = Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal number") from None
    if not d.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return d


def _volume_limit(text: str) -> Decimal | None:
    return None if text.strip().lower() == "none" else _decimal(text)


def _bands(text: str) -> tuple[Decimal, Decimal, Decimal]:
    """Parse ``AT_RISK,MARGIN_CALL,LIQUIDATING`` margin-ratio thresholds (``0.35,0.25,0.10``)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not AT_RISK,MARGIN_CALL,LIQUIDATING (e.g. 0.35,0.25,0.10)"
        )
    a, b, c = (_decimal(p) for p in parts)
    return a, b, c


def _param(text: str) -> tuple[str, int | float | str]:
    """Parse ``name=value``: the value is an int, else a finite float, else a string.

    A missing ``=``, a bad name or a non-finite float is a usage error.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or name.startswith("_"):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE with a parameter name")
    raw = raw.strip()
    try:
        return name, int(raw)
    except ValueError:
        pass
    try:
        value = float(raw)
    except ValueError:
        return name, raw
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: the value must be a finite number")
    return name, value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="solvent",
        description="Backtests and paper trading that cannot spend money they do not have.",
    )
    parser.add_argument("--version", action="version", version=f"solvent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="walk through the ledger with a few fills")
    rp = sub.add_parser("replay", help="run a list of intended orders through the simulated broker")
    rp.add_argument(
        "--bars", required=True, type=Path, help="CSV: timestamp,symbol,open,high,low,close,volume"
    )
    rp.add_argument(
        "--orders", required=True, type=Path, help="CSV: timestamp,symbol,quantity,type,limit,stop,tif,tag"
    )
    rp.add_argument("--cash", required=True, type=_decimal, help="starting cash, exact to the cent")
    rp.add_argument("--account", choices=["cash", "margin"], default="cash")
    _add_broker_flags(rp)
    rp.add_argument("--tick-size", type=_decimal, default=Decimal("0.01"), help="price grid of every symbol")
    rp.add_argument("--out", required=True, type=Path, help="directory for fills/orders/equity/account")

    bt = sub.add_parser("backtest", help="run a Strategy subclass from a Python file over bar data")
    _add_run_inputs(bt)
    _add_broker_flags(bt)
    _add_profile_flags(bt)
    bt.add_argument("--out", type=Path, help="directory for summary.json, fills.csv, equity.csv")
    _add_audit(sub)
    return parser


def _add_run_inputs(p: argparse.ArgumentParser) -> None:
    """Add what every strategy-running command takes: the file, data, cash, account, params."""
    p.add_argument(
        "strategy_file", metavar="STRATEGY.py", type=Path, help="file defining a Strategy subclass"
    )
    p.add_argument("--strategy", metavar="NAME", help="the class to run when the file defines several")
    p.add_argument(
        "--data",
        default="sample",
        metavar="PATH|sample",
        help="CSV or Parquet bars (a file or a directory of files), or 'sample' (default)",
    )
    p.add_argument(
        "--symbol",
        metavar="NAME",
        help="the symbol of a single-symbol data file (default: the file's name, AAPL.csv -> AAPL)",
    )
    p.add_argument("--cash", type=_decimal, default=Decimal(100_000), help="starting cash (default 100000)")
    p.add_argument("--account", choices=["margin", "cash"], default="margin")
    p.add_argument(
        "--param",
        action="append",
        type=_param,
        metavar="NAME=VALUE",
        help="override a strategy parameter (int, float or string); repeatable",
    )


def _add_audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``solvent audit`` (run by ``solvent.audit.command``)."""
    au = sub.add_parser(
        "audit", help="compare a strategy under a peer's semantics with solvent's realistic ones"
    )
    _add_run_inputs(au)
    au.add_argument(
        "--against",
        required=True,
        choices=["vectorbt", "backtrader", "backtesting"],
        help="the peer whose profile the strategy is compared under",
    )
    au.add_argument("--commission-bps", type=_decimal, help="commission in basis points, in every run")
    au.add_argument("--slippage-bps", type=_decimal, help="slippage in basis points, in every run")
    au.add_argument("--out", type=Path, help="directory for audit.json and audit.html")


#: The default of ``solvent backtest``'s profile settings: "take the profile's value".
FROM_PROFILE = object()
_PROFILE_FLAGS = (
    "fill_timing",
    "derived_prices",
    "fixed_fee_per",
    "short_cash",
    "initial_margin",
    "placement_check",
    "unfunded",
    "zero_volume",
)


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r} is not on or off")
    return text == "on"


def _add_profile_flags(p: argparse.ArgumentParser) -> None:
    """Add ``--profile`` and the settings a profile bundles (``solvent.profiles``).

    Each defaults to the profile's value; given explicitly it wins. The broker flags
    that are profile settings too (``--volume-limit``, ``--no-partial``, ``--pdt``)
    default to the profile's value here as well.
    """
    p.add_argument(
        "--profile",
        choices=["realistic", "vectorbt", "backtrader", "backtesting"],
        default="realistic",
        help="bundle of settings reproducing a peer engine's semantics (default realistic)",
    )
    p.add_argument(
        "--fill-timing",
        choices=["next_bar", "same_bar_close"],
        help="next_bar (realistic), or same_bar_close: fill at the close the strategy saw (LOOK-AHEAD)",
    )
    p.add_argument(
        "--derived-prices",
        choices=["tick", "exact"],
        help="slippage and %%-levels snapped to the cent (tick, realistic) or exact to 0.000001",
    )
    p.add_argument(
        "--fixed-fee-per", choices=["order", "leg"], help="a flip's fixed fee per order or per leg"
    )
    p.add_argument(
        "--short-cash",
        choices=["reg_t", "credit"],
        help="shorts need margin (reg_t, realistic) or are unchecked with proceeds as cash (credit)",
    )
    p.add_argument(
        "--initial-margin", type=_decimal, help="initial-margin rate of every position (Reg T 0.5)"
    )
    p.add_argument(
        "--placement-check",
        type=_on_off,
        metavar="on|off",
        help="check and reserve entries when placed (on, realistic) or only at the fill",
    )
    p.add_argument(
        "--unfunded",
        choices=["defer", "cancel"],
        help="an entry the fill cannot fund keeps working (defer, realistic) or is cancelled",
    )
    p.add_argument(
        "--zero-volume",
        choices=["defer", "fill"],
        help="a zero-volume bar fills nothing (defer, realistic) or fills uncapped (fill)",
    )
    p.add_argument("--lot-size", type=_decimal, default=Decimal(1), help="quantity step (default 1 share)")
    p.set_defaults(**dict.fromkeys((*_PROFILE_FLAGS, "volume_limit", "pdt"), FROM_PROFILE), no_partial=None)


def profile_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Return ``backtest``'s profile and the profile settings given on the command line."""
    out: dict[str, Any] = {"profile": args.profile}
    for name in (*_PROFILE_FLAGS, "volume_limit"):
        value = getattr(args, name)
        if value is not FROM_PROFILE:
            out[name] = value
    if args.no_partial:
        out["partial_fills"] = False
    return out


def _add_broker_flags(p: argparse.ArgumentParser) -> None:
    """Add the simulated broker's settings, shared by ``replay`` and ``backtest``."""
    cost = p.add_mutually_exclusive_group()
    cost.add_argument("--commission-bps", type=_decimal, help="commission in basis points of traded value")
    cost.add_argument("--commission-per-share", type=_decimal, help="commission per share")
    p.add_argument("--commission-min", type=_decimal, default=Decimal(0), help="minimum commission per order")
    p.add_argument("--slippage-bps", type=_decimal, help="slippage in basis points of price, adverse")
    p.add_argument(
        "--volume-limit",
        type=_volume_limit,
        default=Decimal("0.1"),
        help="share of bar volume a fill may take, or 'none'",
    )
    p.add_argument("--validation", choices=["reject", "warn", "strict", "off"], default="reject")
    p.add_argument("--no-partial", action="store_true", help="refuse entries that cannot be afforded whole")
    p.add_argument(
        "--pdt",
        choices=["block", "downgrade", "off"],
        default="block",
        help="Pattern Day Trader policy under $25,000 (default block)",
    )
    p.add_argument(
        "--liquidation",
        choices=["smallest_first_then_losers", "largest_losers_first"],
        default="smallest_first_then_losers",
        help="the order a margin-call liquidation sells in",
    )
    p.add_argument(
        "--margin-bands",
        type=_bands,
        metavar="AT_RISK,CALL,LIQ",
        help="margin-ratio thresholds (default 0.35,0.25,0.10)",
    )
    p.add_argument(
        "--check-extremes",
        action="store_true",
        help="check margin at each bar's adverse extreme (low for longs, high for shorts), not its close",
    )
    p.add_argument(
        "--holiday",
        action="append",
        metavar="YYYY-MM-DD",
        help="market holiday for the PDT window; repeatable",
    )
    p.add_argument(
        "--day-trading",
        action="store_true",
        help="a pattern day trader's account: 4x day-trade buying power when prior-close equity >= $25,000",
    )


class RiskFlags(TypedDict):
    """The margin and PDT settings of the broker flags (keyword arguments)."""

    pdt: str | None
    liquidation: str
    margin_bands: MarginBands | None
    check_extremes: bool
    holidays: tuple[str, ...]
    day_trading: bool


def risk_settings(args: argparse.Namespace) -> RiskFlags:
    """Return the margin and PDT keyword arguments the broker flags ask for."""
    bands = None
    if args.margin_bands is not None:
        from solvent.risk.monitor import MarginBands

        bands = MarginBands(*args.margin_bands)
    return {
        # (``solvent backtest`` leaves the policy to its profile unless --pdt is given.)
        "pdt": None if args.pdt == "off" else str(args.pdt),
        "liquidation": args.liquidation,
        "margin_bands": bands,
        "check_extremes": args.check_extremes,
        "holidays": tuple(args.holiday or ()),
        "day_trading": args.day_trading,
    }


def broker_costs(args: argparse.Namespace) -> tuple[CommissionModel | None, SlippageModel | None]:
    """Return the commission and slippage models the broker flags ask for."""
    from solvent.execution.costs import BasisPoints, FixedBps, PerShare

    commission: CommissionModel | None = None
    if args.commission_bps is not None:
        commission = BasisPoints(args.commission_bps)
    elif getattr(args, "commission_per_share", None) is not None:  # `solvent audit` takes bps only
        commission = PerShare(args.commission_per_share, minimum=args.commission_min)
    slippage = None if args.slippage_bps is None else FixedBps(args.slippage_bps)
    return commission, slippage


def _replay(args: argparse.Namespace) -> int:
    from solvent.errors import InsufficientFundsError, SolventError
    from solvent.replay import ReplaySettings, run_replay, write_outputs

    commission, slippage = broker_costs(args)
    try:
        risk = risk_settings(args)
    except SolventError as exc:
        print(f"solvent replay: {exc}", file=sys.stderr)
        return 2
    settings = ReplaySettings(
        cash=args.cash,
        account=args.account,
        commission=commission,
        slippage=slippage,
        volume_limit=args.volume_limit,
        validation=args.validation,
        partial_fills=not args.no_partial,
        tick_size=args.tick_size,
        **risk,
    )
    try:
        result = run_replay(args.bars, args.orders, settings)
    except InsufficientFundsError as exc:
        print(f"solvent replay: insufficient funds: {exc}", file=sys.stderr)
        return 1
    except SolventError as exc:
        print(f"solvent replay: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"solvent replay: cannot read input: {exc}", file=sys.stderr)
        return 2
    write_outputs(result, args.out, args.tick_size)
    s = result.account.snapshot()
    print(
        f"{len(result.order_ids)} orders, {len(result.broker.fills)} fills, "
        f"{len(result.broker.rejections)} refusals; final NLV {s.nlv} -> {args.out}"
    )
    if args.validation in ("off", "warn"):
        print(f"note: validation={args.validation}: orders the account could not afford were not refused")
    if result.broker.halt_reason is not None:
        print(f"note: trading halted: {result.broker.halt_reason}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from solvent.demo import run_demo

        run_demo()
        return 0
    if args.command == "replay":
        return _replay(args)
    if args.command == "backtest":
        from solvent.backtest_cli import run

        return run(args)
    if args.command == "audit":
        from solvent.audit.command import run as run_audit

        return run_audit(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
