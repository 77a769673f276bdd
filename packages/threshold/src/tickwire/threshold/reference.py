"""The reference threshold strategy: raw Ethernet frames in, order frames and stats out.

Everything here follows ``docs/threshold.md``, the authoritative specification that every
backend must reproduce byte for byte. The order frame is built with the project's codecs
(``tickwire.ouch.v50`` for the Enter Order, ``tickwire.moldudp64.codec`` for the
MoldUDP64 packet, ``tickwire.net`` for Ethernet/IPv4/UDP), never by hand.
"""

from __future__ import annotations

import struct

from tickwire.threshold.config import ThresholdConfig
from tickwire.threshold.order import build_order_frame
from tickwire.threshold.scan import A_LOCATE, A_PRICE, A_SIDE, scan_frame
from tickwire.threshold.stats import InstrumentStats, ThresholdStats

_ADD_TYPES = (ord("A"), ord("F"))
_SELL = ord("S")
_LOCATE, _SIDE, _PRICE = A_LOCATE, A_SIDE, A_PRICE
_unpack_price = struct.Struct(">I").unpack_from

__all__ = ["ReferenceBackend", "ThresholdEngine"]


class ThresholdEngine:
    """The reference threshold strategy (one instance = one run)."""

    name = "reference"

    def __init__(self, config: ThresholdConfig | None = None) -> None:
        self._config: ThresholdConfig | None = None
        self._stats = ThresholdStats()
        if config is not None:
            self.configure(config)

    # -- Backend protocol -------------------------------------------------------------
    def configure(self, config: ThresholdConfig) -> None:
        """Start a run with ``config``: all counters, positions and sequences reset."""
        self._config = config
        self._by_locate = {i.locate: i for i in config.instruments}
        self._stats = ThresholdStats.for_config(config)
        self._refused = self._stats.refused
        self._inst_stats = self._stats.instruments

    def feed(self, frame: bytes) -> list[bytes]:
        """Process one input frame; return the order frames it caused (zero or one)."""
        config = self._config
        if config is None:
            raise RuntimeError("configure() the engine before feeding frames")
        stats = self._stats
        stats.frames += 1
        scanned = scan_frame(bytes(frame), config.feed_port)
        if scanned is None:
            return []
        stats.messages_scanned += len(scanned.blocks)
        if scanned.parse_error:
            stats.parse_errors += 1
        out: list[bytes] = []
        by_locate = self._by_locate
        for block in scanned.blocks:
            # Inline add_order_view (hot loop): A/F, sell side, watched locate, price.
            if not block or block[0] not in _ADD_TYPES or block[_SIDE] != _SELL:
                continue
            inst = by_locate.get((block[_LOCATE] << 8) | block[_LOCATE + 1])
            if inst is None:
                continue
            price = _unpack_price(block, _PRICE)[0]
            if not 0 < price <= inst.limit_price:
                continue
            stats.triggers += 1
            if out:
                stats.suppressed += 1
                continue
            if not config.armed:
                self._refused["killed"] += 1
                continue
            if stats.orders >= config.max_orders:
                self._refused["max_orders"] += 1
                continue
            held = self._inst_stats[inst.locate]
            qty = min(
                inst.base_qty + inst.step_qty * ((inst.limit_price - price) // inst.tick),
                inst.max_order_qty,
                inst.max_position - held.shares,
            )
            if qty <= 0:
                self._refused["position"] += 1
                continue
            if held.notional + qty * price > inst.max_notional:
                self._refused["notional"] += 1
                continue
            user_ref_num = config.first_user_ref_num + stats.orders
            stats.orders += 1
            held.shares += qty
            held.notional += qty * price
            out.append(
                build_order_frame(
                    in_dst_mac=scanned.dst_mac,
                    in_src_mac=scanned.src_mac,
                    vlan_tags=scanned.vlan_tags,
                    in_src_ip=scanned.src_ip,
                    in_dst_ip=scanned.dst_ip,
                    config=config,
                    instrument=inst,
                    sequence=stats.orders,
                    user_ref_num=user_ref_num,
                    quantity=qty,
                    price=price,
                )
            )
        return out

    def stats(self) -> ThresholdStats:
        """A snapshot of the statistics so far."""
        s = self._stats
        return ThresholdStats(
            frames=s.frames,
            messages_scanned=s.messages_scanned,
            triggers=s.triggers,
            orders=s.orders,
            suppressed=s.suppressed,
            parse_errors=s.parse_errors,
            refused=dict(s.refused),
            instruments={
                k: InstrumentStats(v.shares, v.notional) for k, v in s.instruments.items()
            },
        )

    def close(self) -> None:
        """Nothing to release: the reference runs in-process."""


class ReferenceBackend(ThresholdEngine):
    """The entry-point factory for ``--backend reference``."""
