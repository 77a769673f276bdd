"""Ethernet/802.1Q/IPv4/UDP parse and build, against construct, scapy and real captures."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.moldudp64 import BadFrame
from tickwire.moldudp64.net import (
    UdpFrame,
    build_udp_frame,
    ipv4_checksum,
    multicast_mac,
    parse_udp_frame,
    parse_udp_frame_construct,
)
from tickwire.moldudp64.pcap import read_pcap

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
def test_build_parse_round_trip_against_construct_and_scapy(
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

    ref = parse_udp_frame_construct(frame)
    assert ref["payload"] == payload
    assert ref["ip"].version_ihl.ihl * 4 == 20 + len(options)
    assert ref["ip"].checksum == int.from_bytes(
        frame[(18 if vlan is not None else 14) + 10 :][:2], "big"
    )
    assert ref["udp"].length == 8 + len(payload)
    assert (ref["vlan"].tci if ref["vlan"] is not None else None) == vlan

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
        build_udp_frame(b"", src_ip="1.2.3", dst_ip="1.2.3.4", src_port=1, dst_port=2)
    with pytest.raises(BadFrame):
        build_udp_frame(b"", src_ip="1.2.3.4", dst_ip="1.2.3.4", src_port=70000, dst_port=2)


def test_frame_fields_and_defaults() -> None:
    frame = build_udp_frame(
        b"x", src_ip=b"\xc6\x12\x00\x01", dst_ip="233.54.12.111", src_port=5, dst_port=6
    )
    udp = parse_udp_frame(frame)
    assert udp.dst_mac == bytes.fromhex("01005e360c6f")
    assert udp.ip_flags_fragment == 0x4000 and udp.ip_ttl == 64 and udp.udp_checksum == 0
    assert isinstance(udp, UdpFrame) and udp.src_ip == "198.18.0.1"
    no_df = parse_udp_frame(
        build_udp_frame(
            b"", src_ip="1.1.1.1", dst_ip="2.2.2.2", src_port=1, dst_port=2, dont_fragment=False
        )
    )
    assert no_df.ip_flags_fragment == 0
