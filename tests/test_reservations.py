"""Reservations of buying power for pending orders: exact, atomic, and safe under threads.

Amounts are in dollars; the ledger keeps cents. A margin account quotes buying power at
the Reg T 50% rate, so $10,000 of cash is $20,000 of overnight buying power and, on a
day-trading account, 4 x $10,000 = $40,000 of day-trade buying power.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction

import pytest

from solvent import (
    Account,
    BuyingPowerMode,
    InvalidInputError,
    Money,
    ReasonCode,
    ReservationResult,
    UnknownReservationError,
    make_fill,
)

N_THREADS = 1_000
#: Each stress test repeats its race on fresh accounts: one round catches a missing lock
#: only some of the time under the GIL, three rounds nearly always.
ROUNDS = 3


@pytest.fixture(params=range(ROUNDS), ids=lambda r: f"round{r}")
def race_round(tight_switching: None) -> None:
    """Repeat a stress test ``ROUNDS`` times, each with fast thread switching."""


@pytest.fixture
def tight_switching() -> Iterator[None]:
    """Make the interpreter switch threads very often, so races have a chance to show."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _contend(n: int, action: Callable[[int], ReservationResult]) -> list[ReservationResult]:
    """Run ``action(i)`` on ``n`` threads released together by a barrier."""
    barrier = threading.Barrier(n)
    results: list[ReservationResult | None] = [None] * n
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = action(i)
        except BaseException as exc:  # surfaced below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _check_refusals(results: list[ReservationResult]) -> None:
    for r in results:
        if not r.ok:
            assert r.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
            assert r.available == Money.of(0)


# -- stress: many threads, one account ------------------------------------------------


def test_thousand_threads_cash_account_exactly_ten_reservations_succeed(race_round: None) -> None:
    # $10,000 settled cash / $1,000 per order = 10 orders, not one more.
    account = Account(10_000, kind="cash")
    results = _contend(N_THREADS, lambda i: account.reserve(f"o{i}", 1000))
    ok = [r for r in results if r.ok]
    assert len(ok) == 10
    assert sum((r.amount for r in ok), Money.of(0)) == Money.of("10000.00")
    assert account.reserved == Money.of("10000.00")
    assert account.buying_power == Money.of(0)
    _check_refusals(results)
    # Each success saw a distinct amount left: 9,000, 8,000, ..., 0.
    assert sorted(r.available for r in ok) == [Money.of(1000 * k) for k in range(10)]
    # Every successful id holds exactly $1,000; no refused id holds anything.
    for r in results:
        if r.ok:
            assert account.reserved_for(r.order_id) == Money.of(1000)
        else:
            with pytest.raises(UnknownReservationError):
                account.reserved_for(r.order_id)


def test_thousand_threads_day_trading_margin_account_exactly_twenty_succeed(race_round: None) -> None:
    # Day-trade buying power = 4 x (prior-close NLV $10,000 - prior-close MM $0) = $40,000,
    # so 20 orders of $2,000 fit.
    account = Account(10_000, kind="margin", day_trading=True, day_trade_min_equity=0)
    assert account.mode is BuyingPowerMode.DAY_TRADE
    assert account.buying_power == Money.of(40_000)
    results = _contend(N_THREADS, lambda i: account.reserve(f"o{i}", 2000))
    assert sum(r.ok for r in results) == 20
    assert account.reserved == Money.of("40000.00")
    assert account.buying_power == Money.of(0)
    _check_refusals(results)


def test_thousand_threads_overnight_margin_account_exactly_ten_succeed(race_round: None) -> None:
    # Overnight (Reg T) buying power = excess $10,000 / 50% = $20,000: 10 orders of $2,000.
    account = Account(10_000, kind="margin")
    assert account.mode is BuyingPowerMode.MARGIN
    assert account.buying_power == Money.of(20_000)
    results = _contend(N_THREADS, lambda i: account.reserve(f"o{i}", 2000))
    assert sum(r.ok for r in results) == 10
    assert account.reserved == Money.of("20000.00")
    assert account.buying_power == Money.of(0)
    # Reservations tie up margin: $20,000 reserved at 50% = $10,000, so excess is 0.
    assert account.excess == Money.of(0)
    _check_refusals(results)


def test_thousand_threads_same_order_id_only_one_reservation_held(race_round: None) -> None:
    account = Account(10_000, kind="cash")
    results = _contend(N_THREADS, lambda i: account.reserve("same", 1))
    assert sum(r.ok for r in results) == 1
    assert {r.reason for r in results if not r.ok} == {ReasonCode.DUPLICATE_ORDER_ID}
    assert account.reserved == Money.of(1)


# -- the reservation book's rules -----------------------------------------------------


def test_duplicate_order_id_refused_and_nothing_changes() -> None:
    account = Account(10_000, kind="cash")
    assert account.reserve("o1", 1000)
    before = account.snapshot()
    # Same id with another amount, and with an amount beyond buying power: the duplicate
    # is reported first, and the held reservation is untouched.
    for amount in (500, 1000, 50_000):
        r = account.reserve("o1", amount)
        assert not r.ok
        assert r.reason is ReasonCode.DUPLICATE_ORDER_ID
        assert r.available == Money.of(9000)
    assert account.snapshot() == before
    assert account.reserved_for("o1") == Money.of(1000)


@pytest.mark.parametrize("method", ["confirm", "release", "reserved_for"])
def test_unknown_order_id_raises_unknown_reservation(method: str) -> None:
    account = Account(10_000, kind="cash")
    account.reserve("known", 100)
    before = account.snapshot()
    with pytest.raises(UnknownReservationError) as info:
        getattr(account, method)("nope")
    assert info.value.order_id == "nope"
    assert isinstance(info.value, KeyError)
    assert account.snapshot() == before


def test_confirm_or_release_after_full_confirm_raises_unknown_reservation() -> None:
    account = Account(10_000, kind="cash")
    account.reserve("o1", 100)
    assert account.confirm("o1") == Money.of(100)
    with pytest.raises(UnknownReservationError):
        account.confirm("o1")
    with pytest.raises(UnknownReservationError):
        account.release("o1")


def test_confirm_thirds_releases_everything_without_residue() -> None:
    # 1000.01 = 100,001 cents. Each confirm moves the cumulative share to k/3 and holds
    # back 100,001 - round_half_even(100,001 x k/3):
    #   1/3: 100,001/3 = 33,333.67 -> 33,334 released, 66,667 left
    #   2/3: 200,002/3 = 66,667.33 -> 66,667 out in all, so 33,333 released, 33,334 left
    #   3/3: the rest, 33,334.
    account = Account(10_000, kind="cash")
    account.reserve("o1", "1000.01", symbol="X")
    third = Fraction(1, 3)
    released = [account.confirm("o1", third) for _ in range(3)]
    assert released == [Money.of("333.34"), Money.of("333.33"), Money.of("333.34")]
    assert sum(released, Money.of(0)) == Money.of("1000.01")
    assert account.reserved == Money.of(0)
    assert account.buying_power == Money.of(10_000)
    assert account.snapshot().pending_symbols == ()
    with pytest.raises(UnknownReservationError):
        account.reserved_for("o1")


def test_confirm_three_tenths_then_seven_tenths_releases_everything() -> None:
    # 0.3 x 100,001 = 30,000.3 -> 30,000 cents; 0.7 completes the order: the other 70,001.
    account = Account(10_000, kind="cash")
    account.reserve("o1", "1000.01")
    assert account.confirm("o1", "0.3") == Money.of("300.00")
    assert account.reserved_for("o1") == Money.of("700.01")
    assert account.confirm("o1", Decimal("0.7")) == Money.of("700.01")
    assert account.reserved == Money.of(0)
    with pytest.raises(UnknownReservationError):
        account.reserved_for("o1")


def test_confirm_many_partial_fills_sum_to_reservation_exactly() -> None:
    # An order of 7 lots filled one lot at a time: each fill releases 1/7 of $1,000.01.
    account = Account(10_000, kind="cash")
    account.reserve("o1", "1000.01")
    released = [account.confirm("o1", Fraction(1, 7)) for _ in range(7)]
    assert sum(released, Money.of(0)) == Money.of("1000.01")
    assert max(released) - min(released) <= Money.of("0.01")
    assert account.reserved == Money.of(0)


def test_confirm_beyond_whole_order_caps_at_reservation() -> None:
    account = Account(10_000, kind="cash")
    account.reserve("o1", 100)
    assert account.confirm("o1", "0.6") == Money.of(60)
    assert account.confirm("o1", "0.6") == Money.of(40)
    assert account.reserved == Money.of(0)


@pytest.mark.parametrize("fraction", [0, -0.5, Fraction(0), Fraction(-1, 3), "nan"])
def test_confirm_non_positive_fraction_raises_and_keeps_reservation(fraction: object) -> None:
    account = Account(10_000, kind="cash")
    account.reserve("o1", 100)
    with pytest.raises(InvalidInputError):
        account.confirm("o1", fraction)  # type: ignore[arg-type]
    assert account.reserved_for("o1") == Money.of(100)


def test_release_after_partial_confirm_releases_the_rest() -> None:
    # 1/4 of 100,001 cents = 25,000.25 -> 25,000 released; release frees the other 75,001.
    account = Account(10_000, kind="cash")
    account.reserve("o1", "1000.01")
    assert account.confirm("o1", "0.25") == Money.of("250.00")
    assert account.release("o1") == Money.of("750.01")
    assert account.reserved == Money.of(0)
    assert account.buying_power == Money.of(10_000)
    with pytest.raises(UnknownReservationError):
        account.release("o1")


def test_reserve_more_than_available_refused_with_buying_power_left() -> None:
    account = Account(1000, kind="cash")
    first = account.reserve("a", 600)
    assert first.ok
    assert first.available == Money.of(400)
    before = account.snapshot()
    refused = account.reserve("b", "400.01")
    assert not refused
    assert refused.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
    assert refused.amount == Money.of("400.01")
    assert refused.available == Money.of(400)
    assert account.snapshot() == before
    # Exactly what is left is still allowed.
    exact = account.reserve("b", 400)
    assert exact.ok
    assert exact.available == Money.of(0)


def test_reservations_show_in_snapshot_and_per_tag_view() -> None:
    account = Account(10_000, kind="margin")
    account.reserve("L1", 300, symbol="AAPL", tag="s1")
    account.reserve("S1", 200, symbol="MSFT", short=True, tag="s2")
    account.reserve("L2", "100.50", symbol="AAPL", tag="s2")
    account.reserve("N1", 50)  # no symbol, no tag
    snap = account.snapshot()
    assert snap.pending_long == Money.of("450.50")  # 300 + 100.50 + 50
    assert snap.pending_short == Money.of(200)
    assert snap.reserved == Money.of("650.50")
    assert snap.pending_symbols == ("AAPL", "MSFT")
    # Margin account: $20,000 of buying power less $650.50 reserved.
    assert snap.buying_power == Money.of("19349.50")
    s1, s2 = account.filter("s1"), account.filter("s2")
    assert (s1.pending_long, s1.pending_short) == (Money.of(300), Money.of(0))
    assert (s2.pending_long, s2.pending_short) == (Money.of("100.50"), Money.of(200))
    # A partial confirm shows in the tag's figures too: half of $200 is used.
    account.confirm("S1", "0.5")
    assert account.filter("s2").pending_short == Money.of(100)
    account.release("S1")
    snap = account.snapshot()
    assert snap.pending_short == Money.of(0)
    assert snap.pending_symbols == ("AAPL",)
    assert account.filter("s2").pending_short == Money.of(0)
    assert account.filter("nobody").pending_long == Money.of(0)


# -- concurrency with fills and marks -------------------------------------------------


def _gross_buying_power_minor(snap_kind: str, settled: Money, nlv: Money, im: Money) -> int:
    """Buying power before reservations, from a snapshot (cash or overnight margin)."""
    if snap_kind == "cash":
        return max(0, settled.minor)
    return max(0, nlv.minor - im.minor) * 2  # Reg T: excess / 50%


@pytest.mark.parametrize("kind", ["cash", "margin"])
def test_reserving_while_filling_and_marking_never_overcommits(kind: str, tight_switching: None) -> None:
    """Reservers race a filler and a watcher.

    Both accounts start with $30,000 of buying power after a seed buy of 100 X @ 100.00
    (cash account: $40,000 - $10,000 settled cash; margin account: 2 x ($20,000 NLV -
    $5,000 IM)).

    * 6 reserver threads reserve random amounts ($10 - $2,000) until the filler is done,
      each keeping at most 5 live reservations (releasing a random one beyond that, and
      half the time anyway); they never confirm, so at the end the account holds exactly
      what they kept.
    * 1 filler thread buys 10 X with a reservation of the exact cost, applying the fill
      and confirming the reservation as one critical section (holding ``account.lock``);
      it also sells 10 (reducing orders reserve nothing) and marks the position.
    * 1 watcher thread takes snapshots and checks that reservations never exceed the
      buying power before reservations.

    In the cash account marks do not touch buying power, and a buy of cost C paid with a
    reservation of C leaves settled cash - reserved unchanged. In the margin account the
    filler trades at the mark with no commission and marks only go up, so buying power
    before reservations never falls below what is reserved (quantities are multiples of
    10, so every value is an even number of cents and 50% margin has no rounding).
    """
    start = 40_000 if kind == "cash" else 20_000
    account = Account(start, kind=kind, instruments=["X"])
    account.apply_fill(make_fill("X", 100, "100.00", "2024-03-04 09:30"))
    assert account.buying_power == Money.of(30_000)
    done = threading.Event()
    stop = threading.Event()
    errors: list[BaseException] = []
    kept: list[dict[str, Money]] = [{} for _ in range(6)]
    refused = [0] * 6
    violations: list[str] = []
    counts = {"buys": 0, "buys_refused": 0, "sells": 0, "marks": 0, "snapshots": 0}

    def reserver(k: int) -> None:
        rng = random.Random(k)
        mine = kept[k]
        i = 0
        try:
            while not done.is_set():
                i += 1
                oid = f"r{k}-{i}"
                amount = Money(rng.randrange(1_000, 200_000))  # $10.00 - $2,000.00
                r = account.reserve(oid, amount, symbol="X", tag=f"r{k}")
                if r.ok:
                    mine[oid] = amount
                else:
                    assert r.reason is ReasonCode.INSUFFICIENT_BUYING_POWER
                    refused[k] += 1
                if len(mine) > 5 or (mine and rng.random() < 0.5):
                    victim = rng.choice(sorted(mine))
                    assert account.release(victim) == mine.pop(victim)
        except BaseException as exc:
            errors.append(exc)

    def filler() -> None:
        rng = random.Random(99)
        price = 10_000  # cents: $100.00
        try:
            for i in range(400):
                ts = f"2024-03-04 10:{i // 60:02d}:{i % 60:02d}"
                if kind == "margin":
                    price += rng.randrange(0, 5)  # rising marks only
                else:
                    price = max(1_000, price + rng.randrange(-50, 51))
                p = Decimal(price) / 100
                roll = rng.random()
                if roll < 0.3 and account.position_lots("X") >= 20:
                    account.apply_fill(make_fill("X", -10, p, ts, order_id=f"f{i}"))
                    counts["sells"] += 1
                elif roll < 0.7:
                    commission = Decimal("1.00") if kind == "cash" else Decimal(0)
                    cost = Money.of(10 * p + commission)
                    with account.lock:
                        if account.reserve(f"f{i}", cost, symbol="X", tag="filler"):
                            account.apply_fill(
                                make_fill("X", 10, p, ts, commission=commission, order_id=f"f{i}")
                            )
                            assert account.confirm(f"f{i}") == cost
                            counts["buys"] += 1
                        else:
                            counts["buys_refused"] += 1
                else:
                    account.mark("X", p, ts)
                    counts["marks"] += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def watcher() -> None:
        try:
            while not stop.is_set():
                s = account.snapshot()
                counts["snapshots"] += 1
                gross = _gross_buying_power_minor(s.kind, s.settled_cash, s.nlv, s.initial_margin)
                if s.reserved.minor > gross:
                    violations.append(f"reserved {s.reserved} > buying power {Money(gross)}")
                if s.buying_power.minor != max(0, gross - s.reserved.minor):
                    violations.append(f"buying power {s.buying_power} != {Money(gross)} - {s.reserved}")
                if s.pending_long + s.pending_short != s.reserved:
                    violations.append("pending long + short != reserved")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=reserver, args=(k,)) for k in range(6)]
    workers.append(threading.Thread(target=filler))
    watch = threading.Thread(target=watcher)
    watch.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    watch.join()

    assert not errors, errors[:3]
    assert not violations, violations[:5]
    # The race was real: every path ran.
    assert counts["snapshots"] > 0
    assert counts["buys"] > 0
    assert counts["sells"] > 0
    assert counts["marks"] > 0
    assert sum(refused) > 0
    held = sum((m for d in kept for m in d.values()), Money.of(0))
    assert account.reserved == held
    for k, d in enumerate(kept):
        for oid, m in d.items():
            assert account.reserved_for(oid) == m
        assert account.filter(f"r{k}").pending_long == sum(d.values(), Money.of(0))
    assert account.filter("filler").pending_long == Money.of(0)
    # The ledger's P&L identity survived the race.
    s = account.snapshot()
    assert s.realized_pnl + s.unrealized_pnl - s.commission - s.fees == s.nlv - s.starting_cash
