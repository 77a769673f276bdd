"""The order frame of the threshold strategy (``docs/threshold.md`` section 5).

ONE builder, used by the reference engine, the differential harness and the tests: the
OUCH 5.0 Enter Order comes from ``tickwire.ouch.v50``, the MoldUDP64 packet from
``tickwire.moldudp64.codec``, Ethernet/IPv4/UDP from ``tickwire.net``; no field
is placed by hand here.
"""

from __future__ import annotations

from tickwire.moldudp64.codec import DownstreamPacket
from tickwire.net import build_udp_frame
from tickwire.ouch import v50
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig

__all__ = ["build_order_frame"]


def build_order_frame(
    *,
    in_dst_mac: bytes,
    in_src_mac: bytes,
    vlan_tags: tuple[tuple[int, int], ...],
    in_src_ip: bytes,
    in_dst_ip: bytes,
    config: ThresholdConfig,
    instrument: InstrumentConfig,
    sequence: int,
    user_ref_num: int,
    quantity: int,
    price: int,
) -> bytes:
    """The order frame of ``docs/threshold.md`` section 5, built with the project codecs.

    ``in_*`` are the addresses of the triggering input frame (IPs as 4 raw bytes);
    ``vlan_tags`` are its VLAN tags, ``(TPID, TCI)`` outer first, which the order carries
    back as they came (QinQ included: the way back crosses the same provider network).
    """
    order = v50.EnterOrder(
        user_ref_num=user_ref_num,
        side="B",
        quantity=quantity,
        symbol=instrument.symbol,
        price=price,
        time_in_force="3",
        display="Y",
        capacity="P",
        intermarket_sweep_eligibility="N",
        cross_type="N",
        cl_ord_id=f"TW{user_ref_num:012d}",
        appendages=(),
    )
    packet = DownstreamPacket(
        session=config.order_session, sequence=sequence, messages=(v50.encode(order),)
    ).build()
    # Addresses swapped: the order goes back to where the feed frame came from.
    return build_udp_frame(
        packet,
        dst_mac=in_src_mac,
        src_mac=in_dst_mac,
        vlan_tags=vlan_tags,
        src_ip=in_dst_ip,
        dst_ip=in_src_ip,
        src_port=config.feed_port,
        dst_port=config.order_port,
        ttl=64,
        tos=0,
        identification=0,
        dont_fragment=True,
        udp_checksum=False,
    )
