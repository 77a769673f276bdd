"""Ethernet/802.1Q/IPv4/IPv6/UDP/TCP parse and build, against scapy and real captures."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.net import BadFrame, BadPcap, read_pcap
from tickwire.net.checksum import ipv4_checksum
from tickwire.net.frames import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCP_ACK,
    TCP_PSH,
    Cursor,
    Ethernet,
    Ipv4,
    Tcp,
    Udp,
    UdpFrame,
    build_ethernet,
    build_ipv4,
    build_tcp,
    build_tcp_frame,
    build_udp,
    build_udp_frame,
    multicast_mac,
    network_layer,
    parse_ethernet,
    parse_ipv4,
    parse_ipv6,
    parse_tcp,
    parse_tcp_frame,
    parse_udp,
    parse_udp_frame,
    positional_constructor,
)

ips = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ports = st.integers(0, 0xFFFF)


def test_ipv4_checksum_known_vector() -> None:
    # The worked example from the Wikipedia "IPv4 header checksum" article.
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert ipv4_checksum(header) == 0xB861
    fixed = header[:10] + b"\xb8\x61" + header[12:]
    assert ipv4_checksum(fixed) == 0


def test_real_frames_rebuild_byte_for_byte(real_captures: list[Path]) -> None:
    for path in real_captures:
        for rec in read_pcap(path):
            udp = parse_udp_frame(rec.frame, verify=True)
            assert udp.vlan_tci == 141
            assert udp.dst_mac == multicast_mac(udp.dst_ip)
            assert udp.build() == rec.frame


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(max_size=300),
    src_ip=ips,
    dst_ip=ips,
    sport=ports,
    dport=ports,
    vlan=st.none() | st.integers(0, 0xFFFF),
    options=st.integers(0, 10).map(lambda n: bytes([1]) * (4 * n)),
    ttl=st.integers(0, 255),
    ident=st.integers(0, 0xFFFF),
    csum=st.booleans(),
    pad=st.integers(0, 30),
)
def test_build_parse_round_trip_against_scapy(
    payload: bytes,
    src_ip: str,
    dst_ip: str,
    sport: int,
    dport: int,
    vlan: int | None,
    options: bytes,
    ttl: int,
    ident: int,
    csum: bool,
    pad: int,
) -> None:
    frame = build_udp_frame(
        payload,
        src_ip=src_ip,
        dst_ip=dst_ip,
        src_port=sport,
        dst_port=dport,
        src_mac=b"\x02\x00\x00\x00\x00\x01",
        vlan_tci=vlan,
        options=options,
        ttl=ttl,
        identification=ident,
        udp_checksum=csum,
    )
    # Ethernet padding after the datagram is not payload.
    udp = parse_udp_frame(frame + b"\x00" * pad, verify=True)
    assert (udp.src_ip, udp.dst_ip, udp.src_port, udp.dst_port) == (src_ip, dst_ip, sport, dport)
    assert (udp.payload, udp.vlan_tci, udp.ip_options, udp.ip_ttl, udp.ip_id) == (
        payload,
        vlan,
        options,
        ttl,
        ident,
    )
    assert (udp.udp_checksum != 0) == csum
    assert udp.build() == frame

    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    sp = Ether(frame)
    assert sp[IP].src == src_ip and sp[IP].dst == dst_ip
    assert sp[UDP].sport == sport and sp[UDP].dport == dport
    assert bytes(sp[UDP].payload) == payload
    # scapy recomputes checksums when rebuilding with them deleted: it must agree with ours.
    again = sp[IP].copy()
    del again.chksum
    assert IP(bytes(again)).chksum == sp[IP].chksum
    if csum:
        rebuilt = IP(bytes(sp[IP]))
        del rebuilt[UDP].chksum
        assert IP(bytes(rebuilt))[UDP].chksum == sp[UDP].chksum


def _frame(**kw: object) -> bytearray:
    args: dict[str, object] = {
        "src_ip": "198.18.0.1",
        "dst_ip": "198.18.0.2",
        "src_port": 1,
        "dst_port": 2,
    }
    args.update(kw)
    return bytearray(build_udp_frame(b"payload", **args))  # type: ignore[arg-type]


def test_bad_frames_raise_typed_errors() -> None:
    good = _frame()
    with pytest.raises(BadFrame, match="14 bytes"):
        parse_udp_frame(good[:10])
    arp = bytearray(good)
    arp[12:14] = b"\x08\x06"
    with pytest.raises(BadFrame, match="not IPv4"):
        parse_udp_frame(arp)
    tcp = bytearray(good)
    tcp[14 + 9] = 6
    with pytest.raises(BadFrame, match="not UDP"):
        parse_udp_frame(tcp)
    frag = bytearray(good)
    frag[14 + 6 : 14 + 8] = struct.pack(">H", 0x2000)  # more fragments
    with pytest.raises(BadFrame, match="fragment"):
        parse_udp_frame(frag)
    with pytest.raises(BadFrame, match="total length"):
        parse_udp_frame(good[:-1])
    with pytest.raises(BadFrame, match="inside its IPv4"):
        parse_udp_frame(good[:20])
    v6 = bytearray(good)
    v6[14] = 0x65
    with pytest.raises(BadFrame, match="version 6"):
        parse_udp_frame(v6)
    badsum = bytearray(good)
    badsum[14 + 10] ^= 0xFF
    parse_udp_frame(badsum)  # not verified by default (checksum offload leaves zeros)
    with pytest.raises(BadFrame, match="checksum"):
        parse_udp_frame(badsum, verify=True)
    badlen = bytearray(good)
    badlen[14 + 20 + 4 : 14 + 20 + 6] = b"\x00\x04"
    with pytest.raises(BadFrame, match="UDP length"):
        parse_udp_frame(badlen)
    with pytest.raises(BadFrame, match=r"frame ends inside its 802\.1Q"):
        parse_udp_frame(_frame(vlan_tci=5)[:16])
    with pytest.raises(BadFrame):
        build_udp_frame(b"", src_ip="198.18.0", dst_ip="198.18.0.2", src_port=1, dst_port=2)
    with pytest.raises(BadFrame):
        build_udp_frame(b"", src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=70000, dst_port=2)


def test_frame_fields_and_defaults() -> None:
    # A multicast group (the MAC follows from it) cannot be in 198.18.0.0/15: an
    # organization-local one (RFC 2365), in a frame that is only built, never sent.
    frame = build_udp_frame(
        b"x", src_ip=b"\xc6\x12\x00\x01", dst_ip="239.192.0.1", src_port=5, dst_port=6
    )
    udp = parse_udp_frame(frame)
    assert udp.dst_mac == bytes.fromhex("01005e400001")
    assert udp.ip_flags_fragment == 0x4000 and udp.ip_ttl == 64 and udp.udp_checksum == 0
    assert isinstance(udp, UdpFrame) and udp.src_ip == "198.18.0.1"
    no_df = parse_udp_frame(
        build_udp_frame(
            b"",
            src_ip="198.18.0.1",
            dst_ip="198.18.0.2",
            src_port=1,
            dst_port=2,
            dont_fragment=False,
        )
    )
    assert no_df.ip_flags_fragment == 0


# --- one parser per header: hypothesis round trips --------------------------------------

macs = st.binary(min_size=6, max_size=6)
ip4 = st.binary(min_size=4, max_size=4)
opts = st.integers(0, 10).map(lambda n: bytes([1]) * (4 * n))


@settings(max_examples=100, deadline=None)
@given(
    dst=macs,
    src=macs,
    ethertype=st.integers(0, 0xFFFF).filter(lambda e: e not in (0x8100, 0x88A8)),
    tci=st.none() | st.integers(0, 0xFFFF),
    rest=st.binary(max_size=20),
)
def test_ethernet_header_round_trip(
    dst: bytes, src: bytes, ethertype: int, tci: int | None, rest: bytes
) -> None:
    hdr = build_ethernet(dst, src, ethertype, vlan_tci=tci)
    cur = Cursor(hdr + rest)
    assert parse_ethernet(cur) == Ethernet(dst, src, ethertype, tci)
    assert cur.pos == len(hdr) and cur.rest() == rest


def test_ethernet_stacked_tags_and_their_limit() -> None:
    inner = build_ethernet(bytes(6), bytes(6), ETHERTYPE_IPV4, vlan_tci=7)
    qinq = inner[:12] + bytes.fromhex("88a80009") + inner[12:]  # outer S-tag 9, inner 7
    cur = Cursor(qinq)
    assert parse_ethernet(cur) == Ethernet(bytes(6), bytes(6), ETHERTYPE_IPV4, 9)
    assert cur.pos == 22
    with pytest.raises(BadFrame, match="more than 1 VLAN tags"):
        parse_ethernet(Cursor(qinq), max_tags=1)


def test_build_ethernet_stacks_tags_as_parse_ethernet_reads_them() -> None:
    """``vlan_tags`` builds QinQ (either outer TPID) byte for byte as a switch stacks it,
    and a third tag, which ``parse_ethernet`` refuses."""
    ipv4 = build_ethernet(bytes(6), bytes(6), ETHERTYPE_IPV4)
    for outer in (0x88A8, 0x8100):
        hdr = build_ethernet(
            bytes(6), bytes(6), ETHERTYPE_IPV4, vlan_tags=((outer, 9), (0x8100, 7))
        )
        assert hdr == ipv4[:12] + outer.to_bytes(2, "big") + bytes.fromhex("00098100") + (
            bytes.fromhex("00070800")
        )
        assert parse_ethernet(Cursor(hdr)) == Ethernet(bytes(6), bytes(6), ETHERTYPE_IPV4, 9)
    one = build_ethernet(bytes(6), bytes(6), ETHERTYPE_IPV4, vlan_tags=((0x8100, 7),))
    assert one == build_ethernet(bytes(6), bytes(6), ETHERTYPE_IPV4, vlan_tci=7)
    three = ((0x88A8, 1), (0x8100, 2), (0x8100, 3))
    with pytest.raises(BadFrame, match="more than 2 VLAN tags"):
        parse_ethernet(Cursor(build_ethernet(bytes(6), bytes(6), 0x0800, vlan_tags=three)))
    with pytest.raises(BadFrame, match="not both"):
        build_ethernet(bytes(6), bytes(6), 0x0800, vlan_tci=1, vlan_tags=((0x8100, 2),))
    frame = build_udp_frame(
        b"x",
        src_ip="198.18.0.1",
        dst_ip="198.18.0.2",
        src_port=1,
        dst_port=2,
        vlan_tags=((0x88A8, 9), (0x8100, 7)),
    )
    assert parse_udp_frame(frame).vlan_tci == 9 and parse_udp_frame(frame).payload == b"x"


@settings(max_examples=100, deadline=None)
@given(
    src=ip4,
    dst=ip4,
    protocol=st.integers(0, 255),
    payload=st.binary(max_size=64),
    tos=st.integers(0, 255),
    ident=st.integers(0, 0xFFFF),
    flags=st.integers(0, 0xFFFF),
    ttl=st.integers(0, 255),
    options=opts,
    pad=st.binary(max_size=8),
)
def test_ipv4_header_round_trip(
    src: bytes,
    dst: bytes,
    protocol: int,
    payload: bytes,
    tos: int,
    ident: int,
    flags: int,
    ttl: int,
    options: bytes,
    pad: bytes,
) -> None:
    hdr = build_ipv4(
        src,
        dst,
        protocol,
        len(payload),
        tos=tos,
        identification=ident,
        flags_fragment=flags,
        ttl=ttl,
        options=options,
    )
    assert ipv4_checksum(hdr) == 0
    cur = Cursor(hdr + payload + pad)
    ip = parse_ipv4(cur)
    assert ip == Ipv4(
        tos,
        len(hdr) + len(payload),
        ident,
        flags,
        ttl,
        protocol,
        int.from_bytes(hdr[10:12], "big"),
        src,
        dst,
        options,
    )
    assert ip.header_length == len(hdr)
    assert cur.rest() == payload  # the padding is cut off by the total length


@settings(max_examples=100, deadline=None)
@given(
    sport=ports, dport=ports, payload=st.binary(max_size=64), src=ip4, dst=ip4, csum=st.booleans()
)
def test_udp_header_round_trip(
    sport: int, dport: int, payload: bytes, src: bytes, dst: bytes, csum: bool
) -> None:
    hdr = build_udp(sport, dport, payload, checksum_ips=(src, dst) if csum else None)
    cur = Cursor(hdr + payload + b"\x00\x00")
    udp = parse_udp(cur)
    assert udp == Udp(sport, dport, 8 + len(payload), int.from_bytes(hdr[6:8], "big"))
    assert (udp.checksum != 0) == csum
    assert cur.rest() == payload


@settings(max_examples=100, deadline=None)
@given(
    sport=ports,
    dport=ports,
    seq=st.integers(0, 0xFFFFFFFF),
    ack=st.integers(0, 0xFFFFFFFF),
    flags=st.integers(0, 0x3F),
    window=st.integers(0, 0xFFFF),
    options=opts,
    payload=st.binary(max_size=64),
)
def test_tcp_header_round_trip(
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: bytes,
    payload: bytes,
) -> None:
    hdr = build_tcp(sport, dport, seq, ack, flags, payload, window=window, options=options)
    cur = Cursor(hdr + payload)
    assert parse_tcp(cur) == Tcp(sport, dport, seq, ack, flags, window, 0, 0, options)
    assert cur.rest() == payload


@settings(max_examples=100, deadline=None)
@given(
    src=ips,
    dst=ips,
    sport=ports,
    dport=ports,
    seq=st.integers(0, 0xFFFFFFFF),
    ack=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=200),
)
def test_tcp_frame_round_trip_against_scapy(
    src: str, dst: str, sport: int, dport: int, seq: int, ack: int, payload: bytes
) -> None:
    frame = build_tcp_frame(
        payload, src=(src, sport), dst=(dst, dport), seq=seq, ack=ack, flags=TCP_PSH | TCP_ACK
    )
    got = parse_tcp_frame(1, frame)
    assert got is not None
    assert (got.src_ip, got.dst_ip, got.payload) == (src, dst, payload)
    assert (got.tcp.src_port, got.tcp.dst_port, got.tcp.seq, got.tcp.ack) == (
        sport,
        dport,
        seq,
        ack,
    )

    from scapy.layers.inet import IP, TCP

    sp = IP(frame[14:])
    again = IP(frame[14:])
    del again.chksum
    del again[TCP].chksum
    rebuilt = IP(bytes(again))
    assert (rebuilt.chksum, rebuilt[TCP].chksum) == (sp.chksum, sp[TCP].chksum)
    assert bytes(sp[TCP].payload) == payload


def test_ipv6_and_link_types() -> None:
    tcp = build_tcp(40000, 26400, 1, 0, TCP_ACK, b"hi") + b"hi"
    v6 = (
        (6 << 28).to_bytes(4, "big")
        + len(tcp).to_bytes(2, "big")
        + bytes([IPPROTO_TCP, 64])
        + bytes(15)
        + b"\x01"
        + bytes(15)
        + b"\x02"
    )
    cur = Cursor(v6 + tcp)
    ip6 = parse_ipv6(cur)
    assert (ip6.next_header, ip6.payload_length, ip6.hop_limit) == (IPPROTO_TCP, len(tcp), 64)
    v4 = build_ipv4(b"\xc6\x12\x00\x01", b"\xc6\x12\x00\x02", IPPROTO_UDP, 0)
    sll = bytes(14) + b"\x08\x00" + v4
    sll2 = b"\x86\xdd" + bytes(18) + v6 + tcp
    for linktype, frame, etype, start in (
        (113, sll, ETHERTYPE_IPV4, 16),
        (276, sll2, ETHERTYPE_IPV6, 20),
        (0, b"\x02\x00\x00\x00" + v4, ETHERTYPE_IPV4, 4),
        (101, v6 + tcp, ETHERTYPE_IPV6, 0),
        (228, v4, ETHERTYPE_IPV4, 0),
        (229, v6 + tcp, ETHERTYPE_IPV6, 0),
    ):
        found = network_layer(linktype, frame)
        assert found is not None and found[0] == etype and found[1].pos == start
    seg = parse_tcp_frame(229, v6 + tcp)
    assert seg is not None and (seg.src_ip, seg.dst_ip, seg.payload) == ("::1", "::2", b"hi")
    assert network_layer(113, bytes(14) + b"\x08\x06" + v4) is None  # ARP
    assert network_layer(1, bytes(5)) is None
    with pytest.raises(BadPcap, match=r"link type 147 cannot be read"):
        network_layer(147, v4)


def test_every_header_is_bounds_checked() -> None:
    """Each parser refuses a header cut anywhere, with BadFrame, never IndexError."""
    frame = build_tcp_frame(
        b"data", src=("198.18.0.1", 1), dst=("198.18.0.2", 2), seq=0, ack=0, flags=0
    )
    for cut in range(len(frame)):
        cur = Cursor(frame[:cut])
        try:
            parse_ethernet(cur)
            parse_ipv4(cur)
            parse_tcp(cur)
        except BadFrame:
            continue
        raise AssertionError(f"a frame cut at {cut} bytes parsed")
    with pytest.raises(BadFrame, match="TCP data offset"):
        parse_tcp(Cursor(bytes(12) + b"\x40\x00" + bytes(6)))
    with pytest.raises(BadFrame, match="IP version 4 is not 6"):
        parse_ipv6(Cursor(frame[14:] + bytes(40)))
    with pytest.raises(BadFrame, match="does not fit in 32 bits"):
        build_tcp(1, 2, 1 << 32, 0, 0)


def test_header_tables_give_the_structs_and_offsets() -> None:
    from tickwire.net import frames

    for layout, size in (
        (frames.ETHERNET_LAYOUT, 14),
        (frames.VLAN_LAYOUT, 4),
        (frames.IPV4_LAYOUT, 20),
        (frames.IPV6_LAYOUT, 40),
        (frames.UDP_LAYOUT, 8),
        (frames.TCP_LAYOUT, 20),
    ):
        assert layout.size == layout.struct.size == size
        ends = [f.offset + f.size for f in layout.fields]
        assert [f.offset for f in layout.fields] == [0, *ends[:-1]] and ends[-1] == size
    assert frames.IPV4_LAYOUT.field("ttl").offset == 8
    assert frames.IPV4_HEADER is frames.IPV4_LAYOUT.struct
    with pytest.raises(KeyError, match="IPv4 has no field 'nope'"):
        frames.IPV4_LAYOUT.field("nope")


def test_parsed_frames_are_ordinary_frozen_dataclasses() -> None:
    """parse_udp_frame builds UdpFrame through slot descriptors (for speed): the result is
    the same as the dataclass constructor's, frozen, equal and hashable."""
    import dataclasses

    frame = build_udp_frame(
        b"x", src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2, vlan_tci=7
    )
    parsed = parse_udp_frame(frame)
    built = UdpFrame(**{f.name: getattr(parsed, f.name) for f in dataclasses.fields(UdpFrame)})
    assert parsed == built and hash(parsed) == hash(built) and repr(parsed) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.src_port = 3  # type: ignore[misc]


def test_positional_constructor_builds_the_same_frozen_instance() -> None:
    """positional_constructor(cls) builds what cls(...) builds (equal, same type, frozen,
    hashable), by position or by name, a plain default applied when a field is left out;
    a field without a default is still required."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        label: str
        tags: tuple[str, ...] = ()

    make = positional_constructor(Point)
    for args, kwargs in [
        ((1, "a"), {}),
        ((1,), {"label": "a", "tags": ("t",)}),
        ((), {"x": 2, "label": "b"}),
    ]:
        built, reference = make(*args, **kwargs), Point(*args, **kwargs)
        assert type(built) is Point and built == reference and hash(built) == hash(reference)
        assert repr(built) == repr(reference)
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.x = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        make(x=1)
