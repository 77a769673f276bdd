"""One table of OUCH 5.0 reject codes: ``tickwire.ouch.v50.RejectReason``.

The simulated exchange, the backtest's venue and the OUCH host answer with its members;
no other source file restates a code (an int literal as a Rejected reason, or a constant
or class of reject codes), so the three places cannot drift apart again.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tickwire.engine.backtest.venue import RejectReason as VenueReason
from tickwire.exchange import Account50, MatchingEngine
from tickwire.ouch import v50

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "packages" / "ouch" / "src" / "tickwire" / "ouch" / "v50.py"


def _int(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _copies(path: Path) -> list[str]:
    """Where ``path`` writes a reject code by hand."""
    found = []
    rel = path.relative_to(ROOT)  # once: relative_to per node took 11 s on Python 3.13
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{rel}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            reason = node.args[2] if name == "Rejected" and len(node.args) > 2 else None
            reason = next((k.value for k in node.keywords if k.arg == "reason"), reason)
            if name == "Rejected" and _int(reason):
                found.append(f"{where}: Rejected(..., {ast.unparse(reason)}, ...)")  # type: ignore[arg-type]
        elif isinstance(node, ast.Assign) and _int(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name) and "REJECT" in target.id and target.id.isupper():
                    found.append(f"{where}: {target.id} = {ast.unparse(node.value)}")
        elif isinstance(node, ast.ClassDef) and "reject" in node.name.lower():
            codes = [b for b in node.body if isinstance(b, ast.Assign) and _int(b.value)]
            if codes:
                found.append(f"{where}: class {node.name} of {len(codes)} codes")
    return found


def test_no_source_file_restates_a_reject_code() -> None:
    sources = [p for p in ROOT.glob("packages/*/src/**/*.py") if p != TABLE]
    assert len(sources) > 50
    assert [c for p in sorted(sources) for c in _copies(p)] == []
    assert _copies(TABLE) == [
        f"{TABLE.relative_to(ROOT)}:{_line()}: class RejectReason of 42 codes"
    ]


def _line() -> int:
    """The line of ``class RejectReason`` in the table's module."""
    return next(n for n, text in enumerate(TABLE.read_text().splitlines(), 1)
                if text.startswith("class RejectReason("))  # fmt: skip


def test_the_exchange_and_the_backtest_venue_answer_from_the_table() -> None:
    assert VenueReason is v50.RejectReason
    out: list[object] = []
    eng = MatchingEngine(lambda m: None, lambda f: None, lambda: 1)
    eng.system("Q")
    eng.add_instrument("AAPL")
    acct = Account50("t", eng, send=out.append)
    cases = [("NOPE", "B", 100, 10_000), ("AAPL", "X", 100, 10_000), ("AAPL", "B", 0, 10_000),
             ("AAPL", "B", 100, 0)]  # fmt: skip
    reasons = []
    for ref, (symbol, side, qty, price) in enumerate(cases, 1):
        msg = v50.EnterOrder(ref, side, qty, symbol, price, "0", "Y", "P", "N", "N", f"C{ref}")
        (rej,) = acct.handle(msg)
        assert isinstance(rej, v50.Rejected)
        reasons.append(rej.reason)
    assert [type(r) for r in reasons] == [v50.RejectReason] * 4
    assert [r.name for r in reasons] == [  # type: ignore[attr-defined]
        "INVALID_SYMBOL", "INVALID_SIDE", "INVALID_QUANTITY", "INVALID_PRICE",
    ]  # fmt: skip
