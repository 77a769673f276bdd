"""The live engine's terminal dashboard (rich).

It shows what a trader watches: PnL, positions, open orders, the risk state (kill switch)
and refusals by reason, feed gaps recovered (and frames taken from the XDP mirror), OUCH
reconnects and resends, and tick-to-order latency percentiles. Keys: ``k`` trips the kill
switch (and cancels open orders), ``a`` re-arms it, ``q`` ends the session cleanly.
Everything shown comes from :meth:`~tickwire.engine.live.engine.LiveEngine.snapshot`, the
same data as the session report, so :func:`render` is a pure function of a snapshot (and
tested as one).

rich is imported lazily: it is only needed when the dashboard runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
import tty
from typing import TYPE_CHECKING, Any

from tickwire.cli import printable
from tickwire.engine.book import fault_phrases

if TYPE_CHECKING:
    from rich.console import Group
    from rich.table import Table
    from tickwire.engine.live.engine import LiveEngine

__all__ = ["handle_key", "render", "run_dashboard"]


def _px(price: int) -> str:
    return f"{price / 10_000:,.4f}"


def _money(value: int) -> str:
    """Price(4) x shares as dollars."""
    return f"{value / 10_000:,.2f}"


def _row(table: Table, *cells: str) -> None:
    """One table row of plain text: a cell is never read as rich markup. Symbols and
    feed session names come from the feed, and a string such as ``[/]`` as markup
    raised ``MarkupError`` on every refresh: the dashboard (and its kill key) went away
    mid-session and the report was lost at the end (test:
    ``test_engine_live_dashboard.py::test_render_shows_feed_strings_as_written``).
    Control characters are shown escaped (:func:`tickwire.cli.printable`): rich passes
    ESC through, so a symbol or session carrying ``ESC [ 2 J`` cleared the operator's
    terminal on every refresh (test: ``..::test_render_escapes_control_characters_from_the_feed``)."""
    from rich.text import Text

    table.add_row(*(Text(printable(c)) for c in cells))


def render(snap: dict[str, Any]) -> Group:
    """A rich renderable of one snapshot."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    armed = snap["armed"]
    head = Text.assemble(
        ("tickwire live  ", "bold"),
        ("ARMED" if armed else "KILLED", "bold green" if armed else "bold white on red"),
        f"   PnL {_money(snap['pnl'])}   up {snap['uptime_s']:.0f}s   ",
        ("[k] kill  [a] arm  [q] quit", "dim"),
    )
    pos = Table(title="positions", expand=True)
    for col in ("symbol", "position", "cash", "realised"):
        pos.add_column(col, justify="right" if col != "symbol" else "left")
    for sym, qty in snap["positions"].items():
        _row(
            pos,
            sym,
            str(qty),
            _money(snap["cash"].get(sym, 0)),
            _money(snap["realised"].get(sym, 0)),
        )
    orders = Table(title="open orders", expand=True)
    for col in ("ref", "symbol", "side", "price", "open"):
        orders.add_column(col)
    for o in snap["orders"]["open"][:15]:
        _row(
            orders, str(o["user_ref_num"]), o["symbol"], o["side"], _px(o["price"]), str(o["open"])
        )
    stats = Table(title="risk, feed, session", expand=True, show_header=False)
    stats.add_column("what")
    stats.add_column("value", justify="right")
    o = snap["orders"]
    _row(stats, "orders sent / refused", f"{o['sent']} / {o['refused']}")
    fees = snap.get("fees")
    if fees is not None and (any(fees["schedule"].values()) or fees["unknown_flag_fills"]):
        unknown = fees["unknown_flag_fills"]
        _row(
            stats,
            "PnL gross / fees / net",
            f"{_money(snap['pnl_gross'])} / {_money(fees['total_e4'])} / {_money(snap['pnl'])}"
            + (f" ({unknown} fills with an unpriced flag)" if unknown else ""),
        )
    for reason, n in sorted(o["refusals"].items()):
        _row(stats, f"  refused {reason}", str(n))
    if o.get("unknown_answers"):  # venue answers naming a UserRefNum never sent
        _row(stats, "answers for orders never sent", str(o["unknown_answers"]))
    if o.get("unknown_executions"):  # executions among them tripped the kill switch
        _row(stats, "executions of orders never sent", f"{o['unknown_executions']} (kill switch)")
    if o.get("unknown_orders"):  # live orders never sent, among them: cancelled
        _row(stats, "orders never sent, live", f"{o['unknown_orders']} (kill switch)")
    if o.get("excess_executions"):  # more shares than the order had open
        _row(stats, "executions beyond the order", f"{o['excess_executions']} (kill switch)")
    if o.get("unexpected_replacements"):  # replacements this engine never sent
        _row(stats, "replacements never sent", f"{o['unexpected_replacements']} (kill switch)")
    if o.get("broken_trades"):  # executions the venue broke: the position is not what clears
        _row(stats, "broken trades", f"{o['broken_trades']} (kill switch)")
    if o.get("distrusted_answers"):  # answers granting more than was sent, or out of turn
        _row(stats, "answers beyond the order", f"{o['distrusted_answers']} (kill switch)")
    inherited = snap.get("inherited")
    if inherited is not None:  # a previous run's orders on the OUCH session (restart)
        held = ", ".join(f"{s} {q}" for s, q in inherited["positions"].items()) or "flat"
        _row(
            stats,
            "inherited from a previous run",
            f"{inherited['orders']} orders, {inherited['cancelled']} cancelled; {held}",
        )
    elif snap["ouch"].get("awaiting_account"):
        waited = snap["ouch"].get("awaiting_account_s")
        since = f" ({waited:.0f} s unanswered)" if waited is not None else ""
        _row(
            stats, "inheriting a previous run", f"orders held for the Account Query Response{since}"
        )
    f = snap["feed"]
    _row(stats, "feed messages", str(f["messages"]))
    _row(stats, "gaps recovered", f"{f['gaps']} ({f['messages_requested']} msgs requested)")
    if f.get("session_changes"):  # each tripped the kill switch
        _row(stats, "feed session changes", f"{', '.join(f['session_changes'])} (kill switch)")
    if f.get("conflicts"):  # copies that differ: a forged packet (kill switch)
        _row(stats, "feed copies that differ", f"{f['conflicts']} msgs (kill switch)")
    refused = {k: n for k, n in (f.get("refused") or {}).items() if n}
    if refused:  # what the receiver refused or held back (docs/robustness.md section 2)
        _row(
            stats,
            "feed packets refused",
            ", ".join(f"{k.removesuffix('_packets')} {n}" for k, n in sorted(refused.items())),
        )
    faults = fault_phrases(f.get("book_faults") or {})
    if faults:  # a feed that contradicts itself, rebuilt by the book's rules
        _row(stats, "book faults", ", ".join(faults))
    m = f.get("mirror")
    if m is not None:
        _row(
            stats,
            "frames from the XDP mirror",
            f"{m['frames']} ({m['ordered']} ordered, {m['cut']} cut, {m['dropped']} dropped)",
        )
    _row(
        stats,
        "OUCH connections / resent",
        f"{snap['ouch']['connections']} / {snap['ouch']['resent']}",
    )
    if snap["ouch"].get("session_ended"):  # no order can go out any more (kill switch)
        _row(stats, "OUCH session", "ended by the exchange (kill switch)")
    if snap["ouch"].get("reconnect_failed"):  # the client gave up (kill switch)
        _row(stats, "OUCH reconnect", f"given up: {snap['ouch']['reconnect_failed']} (kill switch)")
    if snap["ouch"].get("stream_diverged"):  # the exchange reset its stream (kill switch)
        o = snap["ouch"]
        _row(
            stats,
            "OUCH stream reset",
            f"at sequence {o['stream_diverged_at']}, {o['stream_diverged']}x (kill switch)",
        )
    lat = snap["latency_ns"]
    us = [f"{(lat[k] or 0) / 1e3:.1f}" for k in ("p50", "p99", "p99_9", "max")]
    _row(stats, "tick-to-order us P50/P99/P99.9/max", f"{' / '.join(us)} (n={lat['count']})")
    log = snap.get("log")
    if not log or not log["last"]:
        return Group(head, pos, orders, stats)
    lines = Table(title=f"strategy log ({log['lines']} lines)", expand=True, show_header=False)
    lines.add_column("line", overflow="fold")
    for line in log["last"][-5:]:
        _row(lines, line)
    return Group(head, pos, orders, stats, lines)


def handle_key(engine: LiveEngine, key: str) -> str:
    """Act on one key; returns what was done (for the status line and tests)."""
    if key == "k":
        n = engine.kill()
        return f"kill switch tripped, {n} cancels sent"
    if key == "a":
        engine.arm()
        return "kill switch reset"
    if key == "q":
        engine.stop()
        return "stopping"
    return ""


async def run_dashboard(engine: LiveEngine, refresh: float = 0.25) -> None:
    """Show the dashboard until the session ends; keys act on the engine."""
    from rich.live import Live

    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno() if sys.stdin.isatty() else None
    saved = termios.tcgetattr(fd) if fd is not None else None
    if fd is not None:
        tty.setcbreak(fd)

        def on_key() -> None:
            for ch in os.read(fd, 32).decode(errors="ignore"):
                handle_key(engine, ch.lower())

        loop.add_reader(fd, on_key)
    try:
        with Live(render(engine.snapshot()), refresh_per_second=1 / refresh, screen=False) as live:
            while not engine.stopping:
                live.update(render(engine.snapshot()))
                await asyncio.sleep(refresh)
    finally:
        if fd is not None and saved is not None:
            loop.remove_reader(fd)
            with contextlib.suppress(termios.error):
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
