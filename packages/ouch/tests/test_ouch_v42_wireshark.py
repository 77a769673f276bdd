"""OUCH 4.2 interop with Wireshark: every message of ``tickwire.ouch.v42``, inbound
and outbound, is encoded by us, framed in SoupBinTCP (Unsequenced Data from the
client, Sequenced Data from the server, after a login), written as a TCP stream by
``TcpCaptureWriter`` and read back by tshark's ``soupbintcp`` and ``ouch``
dissectors (packet-ouch.c, which targets OUCH 4.x). For each message, the fields
Wireshark shows must be exactly ours: same names in the same order, at our offsets
and sizes, holding our bytes and our values (prices also as Wireshark's dollars with
4 decimals, Time In Force as its IOC / market hours / system hours / duration).

Where Wireshark shows a value differently from our dataclass, the test asserts
what it shows (so it still fails if our bytes change). Each case was checked
against the spec; none is a fault of ours:

* Alpha fields (Order Tokens, Stock, Firm) keep their right space padding.
* Reference Price Type (``G``, Alpha(1) in the spec, a ``str`` here) is registered
  in packet-ouch.c as FT_UINT32, so its value shows as the letter's ASCII code
  (``"I"`` shows as ``73``); only the display text, ``... (I)``, has the letter.
* Timestamps (nanoseconds since midnight) show as ``H:MM:SS.nnnnnnnnn``; the
  dissector cuts the seconds to 32 bits, so values of 2**32 s and more (about 136
  years past midnight, never sent by NASDAQ) wrap.
* A price of 0x7FFFFFFF ($214,748.3647, the spec's market-order price) displays as
  ``Market``.

The dissector also knows ``K`` (Price Correction, 36 bytes), a message of OUCH 4.0
and 4.1 that 4.2 does not have (NOTES.md lists the 4.2 messages); v42 has no ``K``.
It has no layout of OUCH 5.0, so only 4.2 is checked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from _ouch_strategies import message_strategy
from _ouch_tshark import Proto, dissect, needs_tshark
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.net.tcp import TcpCaptureWriter
from tickwire.ouch import v42
from tickwire.ouch._wire import Message
from tickwire.soupbintcp.packets import LoginAccepted, LoginRequest, build_packet, data_packet

PORT = 26400
FIRST_SEQ = 41  # the Login Accepted's sequence number; tshark counts Sequenced Data from it

#: Wireshark's name of each message (the ``ouch`` tree line is "OUCH, <name>"): for
#: ``U`` and ``M``, whose type letter means one thing inbound and another outbound,
#: the dissector goes by length, so the name also shows it took the right layout
TSHARK_NAME: dict[type[Message], str] = {
    v42.EnterOrder: "Enter Order",
    v42.ReplaceOrder: "Replace Order",
    v42.CancelOrder: "Cancel Order",
    v42.ModifyOrder: "Modify Order",
    v42.SystemEvent: "System Event",
    v42.OrderAccepted: "Accepted",
    v42.OrderReplaced: "Replaced",
    v42.OrderCanceled: "Canceled",
    v42.AiqCanceled: "AIQ Canceled",
    v42.OrderExecuted: "Executed",
    v42.BrokenTrade: "Broken Trade",
    v42.ExecutedWithReferencePrice: "Executed with Reference Price",
    v42.TradeCorrection: "Trade Correction",
    v42.Rejected: "Rejected",
    v42.CancelPending: "Cancel Pending",
    v42.CancelReject: "Cancel Reject",
    v42.OrderPriorityUpdate: "Order Priority Update",
    v42.OrderModified: "Order Modified",
}

#: our field name -> Wireshark's, where they differ (others are "ouch." + ours)
RENAMED = {
    "time_in_force": "ouch.tif",
    "intermarket_sweep_eligibility": "ouch.iso_eligible",
    "minimum_quantity": "ouch.min_quantity",
}
#: Wireshark has one field per kind of reason
REASON = {
    v42.OrderCanceled: "ouch.cancel_reason",
    v42.AiqCanceled: "ouch.cancel_reason",
    v42.BrokenTrade: "ouch.broken_trade_reason",
    v42.TradeCorrection: "ouch.trade_correction_reason",
    v42.Rejected: "ouch.reject_reason",
}
PRICES = {"price", "execution_price", "reference_price"}
MARKET_PRICE = 0x7FFFFFFF


def tshark_field(cls: type[Message], name: str) -> str:
    if name == "reason":
        return REASON[cls]
    return RENAMED.get(name, f"ouch.{name}")


def clock(ns: int) -> str:
    """packet-ouch.c's timestamp text (seconds cut to 32 bits, as it does)."""
    secs = (ns // 10**9) & 0xFFFFFFFF
    return f"{secs // 3600}:{secs % 3600 // 60:02d}:{secs % 60:02d}.{ns % 10**9:09d}"


def quoted(ch: str) -> str:
    """How Wireshark shows an FT_CHAR value (printable ASCII)."""
    return "'" + ch.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dollars(price: int) -> str:
    return "Market" if price == MARKET_PRICE else f"${price // 10_000}.{price % 10_000:04d}"


def tif_text(tif: int) -> str:
    special = {
        v42.TIF_IOC: "Immediate Or Cancel",
        v42.TIF_MARKET_HOURS: "Market Hours",
        v42.TIF_SYSTEM_HOURS: "System Hours",
    }
    if tif in special:
        return f"{special[tif]} ({tif})"
    return f"{tif // 3600}h {tif % 3600 // 60:02d}m {tif % 60:02d}s ({tif} seconds)"


def expected_fields(msg: Message) -> list[tuple[str, int, int, str]]:
    """(Wireshark field, offset in the message, size, shown value) for each field."""
    cls = type(msg)
    out = [("ouch.packet_type", 0, 1, quoted(cls.message_type))]
    off = 1
    for name, wt in cls._codec.fields:
        value: Any = getattr(msg, name)
        if name == "timestamp":
            show = clock(value)
        elif name == "reference_price_type":
            show = str(ord(value))  # registered as FT_UINT32 in packet-ouch.c: the code
        elif wt.kind == "uint":
            show = str(value)
        elif wt.kind == "alpha":
            show = value.ljust(wt.size)
        else:
            show = quoted(value)
        out.append((tshark_field(cls, name), off, wt.size, show))
        off += wt.size
    return out


def write_session(path: Path, msgs: Sequence[Message], mss: int = 1460) -> None:
    """Login, then the messages: runs of consecutive messages from one side go out as
    one chunk, so with a small ``mss`` SoupBinTCP packets share and straddle TCP
    segments and Wireshark must reassemble them."""
    with TcpCaptureWriter(path, server=("127.0.0.1", PORT), mss=mss) as w:
        w.client_sent(build_packet(LoginRequest("TWUSER", "Secret123", "TW42", FIRST_SEQ)))
        w.server_sent(build_packet(LoginAccepted("TW42", FIRST_SEQ)))
        run: list[bytes] = []
        inbound: bool | None = None
        for msg in msgs:
            this = isinstance(msg, v42.InboundMessage)
            if run and this != inbound:
                (w.client_sent if inbound else w.server_sent)(b"".join(run))
                run = []
            inbound = this
            run.append(data_packet("U" if this else "S", v42.encode(msg)))
        if run:
            (w.client_sent if inbound else w.server_sent)(b"".join(run))


def check(msgs: Sequence[Message], layers: list[Proto]) -> None:
    """Wireshark read every message of ``msgs``, in order, exactly as we wrote it."""
    soup = [p for p in layers if p.name == "soupbintcp"]
    ouch = [p for p in layers if p.name == "ouch"]
    assert [p.field("soupbintcp.packet_type").show for p in soup[:2]] == ["'L'", "'A'"]
    assert len(soup) == len(msgs) + 2 and len(ouch) == len(msgs)
    seq = FIRST_SEQ
    for msg, sp, op in zip(msgs, soup[2:], ouch, strict=True):
        wire = v42.encode(msg)
        where = f"{msg!r} as {op.showname!r}"
        # SoupBinTCP framing: Unsequenced Data in, Sequenced Data out, numbered
        inbound = isinstance(msg, v42.InboundMessage)
        assert sp.field("soupbintcp.packet_type").show == ("'U'" if inbound else "'S'"), where
        assert sp.field("soupbintcp.packet_length").show == str(len(wire) + 1), where
        if not inbound:
            shown = sp.field("soupbintcp.seq_num").showname
            assert shown == f"Sequence number: {seq} (Calculated)", where
            seq += 1
        # the message: its name, its length, every field at our offset with our value
        assert op.showname == f"OUCH, {TSHARK_NAME[type(msg)]}", where
        assert op.size == len(wire), where
        got = [(f.name, f.pos - op.pos, f.size, f.show) for f in op.fields]
        assert got == expected_fields(msg), where
        ours = {tshark_field(type(msg), n): n for n, _ in type(msg)._codec.fields}
        for f in op.fields:
            start = f.pos - op.pos
            assert f.value == wire[start : start + f.size].hex(), (where, f)
            if f.name == "ouch.packet_type":
                continue
            name = ours[f.name]
            value = getattr(msg, name)
            text = f.showname.partition(": ")[2]
            if name in PRICES:
                assert text == dollars(value), (where, f)
            elif name == "time_in_force":
                assert text == tif_text(value), (where, f)
            elif name == "reference_price_type":
                assert text.endswith(f"({value})"), (where, f)


TS = 34_200_123_456_789  # 09:30:00.123456789
#: one of every v42 message, every field distinct from every other field of its
#: message (so a shifted or swapped field shows), with codes that are valid OUCH 4.2
FIXED: list[Message] = [
    v42.EnterOrder(
        order_token="TW000000000001", buy_sell_indicator="B", shares=1_001, stock="AAPL",
        price=1_500_025, time_in_force=v42.TIF_MARKET_HOURS, firm="TWFM", display="Y",
        capacity="P", intermarket_sweep_eligibility="N", minimum_quantity=100, cross_type="O",
        customer_type="R",
    ),
    v42.ReplaceOrder(
        existing_order_token="TW000000000001", replacement_order_token="TW00000000002",
        shares=2_002, price=1_499_900, time_in_force=3_661, display="A",
        intermarket_sweep_eligibility="Y", minimum_quantity=200,
    ),
    v42.CancelOrder(order_token="TW00000000002", shares=303),
    v42.ModifyOrder(order_token="TW0000000004", buy_sell_indicator="S", shares=404),
    v42.SystemEvent(timestamp=TS, event_code="S"),
    v42.OrderAccepted(
        timestamp=TS + 1, order_token="TW000000000001", buy_sell_indicator="B", shares=1_001,
        stock="AAPL", price=1_500_025, time_in_force=v42.TIF_MARKET_HOURS, firm="TWFM",
        display="Y", order_reference_number=8_000_000_001, capacity="P",
        intermarket_sweep_eligibility="N", minimum_quantity=100, cross_type="O",
        order_state="L", bbo_weight_indicator="1",
    ),
    v42.OrderReplaced(
        timestamp=TS + 2, replacement_order_token="TW00000000002", buy_sell_indicator="T",
        shares=2_002, stock="MSFT", price=1_499_900, time_in_force=3_661, firm="FRM2",
        display="A", order_reference_number=8_000_000_002, capacity="R",
        intermarket_sweep_eligibility="Y", minimum_quantity=200, cross_type="C",
        order_state="L", previous_order_token="TW000000000001", bbo_weight_indicator="2",
    ),
    v42.OrderCanceled(
        timestamp=TS + 3, order_token="TW00000000002", decrement_shares=303, reason="U"
    ),
    v42.AiqCanceled(
        timestamp=TS + 4, order_token="TW000000000005", decrement_shares=505, reason="Q",
        quantity_prevented_from_trading=55, execution_price=1_500_100, liquidity_flag="R",
    ),
    v42.OrderExecuted(
        timestamp=TS + 5, order_token="TW000000000006", executed_shares=606,
        execution_price=1_499_800, liquidity_flag="A", match_number=9_000_000_006,
    ),
    v42.BrokenTrade(
        timestamp=TS + 6, order_token="TW000000000006", match_number=9_000_000_006, reason="E"
    ),
    v42.ExecutedWithReferencePrice(
        timestamp=TS + 7, order_token="TW000000000008", executed_shares=808,
        execution_price=1_500_050, liquidity_flag="k", match_number=9_000_000_008,
        reference_price=1_500_075, reference_price_type="I",
    ),
    v42.TradeCorrection(
        timestamp=TS + 8, order_token="TW000000000008", executed_shares=909,
        execution_price=1_500_060, liquidity_flag="m", match_number=9_000_000_009, reason="N",
    ),
    v42.Rejected(timestamp=TS + 9, order_token="TW000000000010", reason="H"),
    v42.CancelPending(timestamp=TS + 10, order_token="TW000000000011"),
    v42.CancelReject(timestamp=TS + 11, order_token="TW000000000012"),
    v42.OrderPriorityUpdate(
        timestamp=TS + 12, order_token="TW000000000001", price=1_500_000, display="P",
        order_reference_number=8_000_000_013,
    ),
    v42.OrderModified(
        timestamp=TS + 13, order_token="TW0000000004", buy_sell_indicator="B", shares=140
    ),
]  # fmt: skip


def test_ouch42_wireshark_fixture_covers_every_message() -> None:
    """No tshark needed: the fixture has every v42 message once, with fields that
    differ from each other on the wire; 'K' is not an OUCH 4.2 message here."""
    registered = [c.cls for reg in (v42.INBOUND, v42.OUTBOUND) for c in reg.by_type.values()]
    assert [type(m) for m in FIXED] == registered
    assert set(TSHARK_NAME) == set(registered)
    for msg in FIXED:
        fields = expected_fields(msg)[1:]
        wire = v42.encode(msg)
        chunks = [wire[off : off + size] for _, off, size, _ in fields]
        assert len(set(chunks)) == len(chunks), msg
    assert "K" not in v42.OUTBOUND_LENGTHS and "K" not in v42.INBOUND_LENGTHS


#: the special values Wireshark displays by name: the market-order price and the
#: three special Times In Force (FIXED has market hours)
SPECIAL: list[Message] = [
    v42.EnterOrder(
        order_token="TW000000000020", buy_sell_indicator="S", shares=2_000, stock="QQQ",
        price=MARKET_PRICE, time_in_force=v42.TIF_SYSTEM_HOURS, firm="TWFM", display="Y",
        capacity="A", intermarket_sweep_eligibility="N", minimum_quantity=0, cross_type="C",
        customer_type=" ",
    ),
    v42.ReplaceOrder(
        existing_order_token="TW000000000020", replacement_order_token="TW000000000021",
        shares=1_900, price=MARKET_PRICE, time_in_force=v42.TIF_IOC, display="Y",
        intermarket_sweep_eligibility="N", minimum_quantity=0,
    ),
]  # fmt: skip


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("mss", [1460, 7], ids=["1460-byte-segments", "7-byte-segments"])
def test_ouch42_every_message_as_wireshark_reads_it(tmp_path: Path, mss: int) -> None:
    path = tmp_path / "ouch42-all.pcap"
    write_session(path, FIXED + SPECIAL, mss)
    layers = dissect(path, PORT)
    check(FIXED + SPECIAL, layers)
    # our codes are the spec's: Wireshark names every one of them
    ouch = [p for p in layers if p.name == "ouch"]
    unknown = [(p.showname, f.showname) for p in ouch for f in p.fields if "Unknown" in f.showname]
    assert unknown == []
    accepted = ouch[5]
    assert accepted.field("ouch.timestamp").show == "9:30:00.123456790"
    assert accepted.field("ouch.price").showname == "Price: $150.0025"
    assert accepted.field("ouch.tif").showname == "Time In Force: Market Hours (99998)"
    assert accepted.field("ouch.stock").show == "AAPL    "
    market = ouch[len(FIXED)]
    assert market.field("ouch.price").showname == "Price: Market"
    assert market.field("ouch.tif").showname == "Time In Force: System Hours (99999)"
    assert ouch[-1].field("ouch.tif").showname == "Time In Force: Immediate Or Cancel (0)"
    g = ouch[11].field("ouch.reference_price_type")
    assert (g.show, g.showname) == ("73", "Reference Price Type: Intraday Indicative Value (I)")


ALL_TYPES: list[type[Message]] = list(TSHARK_NAME)


def batches() -> st.SearchStrategy[list[Message]]:
    """One to three random messages of every v42 type, in random order."""
    groups = st.tuples(*(st.lists(message_strategy(c), min_size=1, max_size=3) for c in ALL_TYPES))
    return groups.flatmap(lambda gs: st.permutations([m for g in gs for m in g]))


@pytest.mark.tshark
@needs_tshark
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msgs=batches(), mss=st.sampled_from([1460, 61, 7]))
def test_ouch42_random_messages_as_wireshark_reads_them(
    tmp_path_factory: pytest.TempPathFactory, msgs: list[Message], mss: int
) -> None:
    """Random values in every field (printable ASCII, full integer ranges), many
    messages per capture, one tshark run per example; segments of 1460, 61 or 7
    bytes, so SoupBinTCP packets share and straddle TCP segments."""
    path = tmp_path_factory.mktemp("ouch42") / "random.pcap"
    write_session(path, msgs, mss)
    check(msgs, dissect(path, PORT))
