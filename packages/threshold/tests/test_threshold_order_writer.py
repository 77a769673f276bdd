"""The compiled core's order frames are held to the one builder at import
(``cbackend.check_order_writer``), so a drift between the generated offsets and the
codecs fails loudly instead of sending other bytes."""

from __future__ import annotations

import pytest
from tickwire.threshold import ThresholdEngine, cbackend

pytestmark = pytest.mark.skipif(not cbackend.AVAILABLE, reason=f"{cbackend.UNAVAILABLE_REASON}")


class _OrderSideSell(ThresholdEngine):
    """A reference that disagrees with the core in one byte of the Enter Order (side)."""

    def feed(self, frame: bytes) -> list[bytes]:
        out = []
        for f in super().feed(frame):
            side = len(f) - 47 + 5  # the Side byte of the Enter Order that ends the frame
            out.append(f[:side] + b"S" + f[side + 1 :])
        return out


def test_the_core_passes_its_import_check() -> None:
    cbackend.check_order_writer()


def test_the_import_check_fails_on_a_difference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cbackend, "ThresholdEngine", _OrderSideSell)
    with pytest.raises(AssertionError, match="writes another order frame than build_order_frame"):
        cbackend.check_order_writer()
