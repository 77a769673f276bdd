"""The public hypothesis strategies produce what they promise."""

from __future__ import annotations

import tickwire.itch as itch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.itch import strategies as S
from tickwire.itch.messages import MESSAGE_CLASSES, MESSAGE_STRUCTS, Alpha

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


PER_TYPE = {
    "S": S.system_events, "R": S.stock_directories, "H": S.stock_trading_actions,
    "Y": S.reg_sho_restrictions, "L": S.market_participant_positions,
    "V": S.mwcb_decline_levels, "W": S.mwcb_statuses, "K": S.ipo_quoting_period_updates,
    "J": S.luld_auction_collars, "h": S.operational_halts, "A": S.add_orders,
    "F": S.add_order_mpids, "E": S.order_executeds, "C": S.order_executeds_with_price,
    "X": S.order_cancels, "D": S.order_deletes, "U": S.order_replaces, "P": S.trades,
    "Q": S.cross_trades, "B": S.broken_trades, "I": S.noiis,
    "N": S.retail_price_improvement_indicators, "O": S.dlcr_price_discoveries,
}  # fmt: skip


def test_one_public_strategy_per_type() -> None:
    assert set(PER_TYPE) == set(MESSAGE_CLASSES)
    for letter, strategy in PER_TYPE.items():
        assert strategy.__doc__ and MESSAGE_CLASSES[letter].__name__ in strategy.__doc__
    exported = {name for name in S.__all__ if getattr(S, name) in PER_TYPE.values()}
    assert len(exported) == 23


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_per_type_strategies_draw_their_type(data: st.DataObject) -> None:
    letter = data.draw(st.sampled_from(sorted(PER_TYPE)))
    msg = data.draw(PER_TYPE[letter]())
    assert type(msg) is MESSAGE_CLASSES[letter]


@SETTINGS
@given(S.messages())
def test_valid_codes_are_from_the_code_lists(msg: itch.Message) -> None:
    for sub in MESSAGE_STRUCTS[msg.message_type].subcons:
        con = sub.subcon
        if isinstance(con, Alpha) and con.length == 1 and con.codes is not None:
            assert getattr(msg, sub.name) in set(con.codes), sub.name
    assert 0 <= msg.timestamp < S.NS_PER_DAY
    assert itch.decode(itch.encode(msg)) == msg


@SETTINGS
@given(S.add_orders(stock="AAPL", buy_sell_indicator="S"))
def test_overrides(msg: itch.AddOrder) -> None:
    assert msg.stock == "AAPL"
    assert msg.buy_sell_indicator == "S"


def test_unknown_override_field_is_an_error() -> None:
    try:
        S.add_orders(nope=1)
    except TypeError as exc:
        assert "nope" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected TypeError")


@SETTINGS
@given(S.streams())
def test_streams_are_consistent(msgs: list[itch.Message]) -> None:
    """An independent checker of the promises in the streams() docstring."""
    assert [m.event_code for m in msgs[:2]] == ["O", "S"]  # type: ignore[attr-defined]
    assert [m.event_code for m in msgs[-3:]] == ["M", "E", "C"]  # type: ignore[attr-defined]
    stamps = [m.timestamp for m in msgs]
    assert stamps == sorted(stamps)
    directory = {m.stock_locate: m.stock for m in msgs if isinstance(m, itch.StockDirectory)}
    assert directory and sorted(directory) == list(range(1, len(directory) + 1))
    live: dict[int, tuple[int, int]] = {}  # ref -> (locate, shares)
    seen_refs: set[int] = set()
    last_match = 0
    for m in msgs:
        if isinstance(m, itch.AddOrder | itch.AddOrderMPID):
            assert m.order_reference_number not in seen_refs
            assert directory[m.stock_locate] == m.stock
            assert m.shares > 0
            seen_refs.add(m.order_reference_number)
            live[m.order_reference_number] = (m.stock_locate, m.shares)
        elif isinstance(m, itch.OrderExecuted | itch.OrderExecutedWithPrice):
            locate, shares = live[m.order_reference_number]
            assert locate == m.stock_locate and 0 < m.executed_shares <= shares
            assert m.match_number > last_match
            last_match = m.match_number
            if m.executed_shares == shares:
                del live[m.order_reference_number]
            else:
                live[m.order_reference_number] = (locate, shares - m.executed_shares)
        elif isinstance(m, itch.OrderCancel):
            locate, shares = live[m.order_reference_number]
            assert locate == m.stock_locate and 0 < m.cancelled_shares < shares
            live[m.order_reference_number] = (locate, shares - m.cancelled_shares)
        elif isinstance(m, itch.OrderDelete):
            assert live.pop(m.order_reference_number)[0] == m.stock_locate
        elif isinstance(m, itch.OrderReplace):
            assert live.pop(m.original_order_reference_number)[0] == m.stock_locate
            assert m.new_order_reference_number not in seen_refs
            seen_refs.add(m.new_order_reference_number)
            live[m.new_order_reference_number] = (m.stock_locate, m.shares)
        elif isinstance(m, itch.Trade):
            assert m.match_number > last_match
            last_match = m.match_number
        itch.decode(itch.encode(m))  # every message is encodable
