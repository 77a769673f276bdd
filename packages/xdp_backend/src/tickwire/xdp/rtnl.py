"""What rtnetlink says about an interface: its kind, its peer, its XDP programs.

One ``RTM_GETLINK`` request per interface on a ``NETLINK_ROUTE`` socket (no iproute2,
no sysfs: /sys/class/net shows the namespace that mounted /sys, not the caller's). A veth
reports its peer's ifindex (``IFLA_LINK``) and, when the peer lives in another network
namespace, that namespace's id as seen from here (``IFLA_LINK_NETNSID``); the peer is then
asked for with ``IFLA_TARGET_NETNSID``, which the kernel answers from that namespace
(Linux 4.20+, CAP_NET_ADMIN there).

:func:`native_veth_warning` uses it for the one case where a native attach fails
silently: XDP_TX on a veth hands the frame to the peer's NAPI, which runs only when the
peer has an XDP program of its own; otherwise every frame the program sends back is
dropped, while the program counts it as an order sent and ``tx errors`` stays 0.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

__all__ = ["Link", "RtnlError", "link", "native_veth_warning"]

_RTM_NEWLINK = 16
_RTM_GETLINK = 18
_NLMSG_ERROR = 2
_NLM_F_REQUEST = 1
_IFLA_IFNAME = 3
_IFLA_LINK = 5
_IFLA_LINKINFO = 18
_IFLA_INFO_KIND = 1
_IFLA_LINK_NETNSID = 37
_IFLA_XDP = 43
_IFLA_XDP_ATTACHED = 2
_IFLA_TARGET_NETNSID = 46

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_RTATTR = struct.Struct("=HH")


class RtnlError(OSError):
    """The kernel refused the request (errno set), or its answer was not a link."""


@dataclass(frozen=True, slots=True)
class Link:
    """One interface as rtnetlink reports it."""

    name: str
    ifindex: int
    kind: str  # IFLA_INFO_KIND ("veth", "bridge", ...); "" for a plain device
    peer_ifindex: int  # IFLA_LINK (a veth's peer); 0 when absent
    peer_netnsid: int | None  # IFLA_LINK_NETNSID: the peer's namespace, None when it is this one
    xdp_attached: bool  # IFLA_XDP_ATTACHED != XDP_ATTACHED_NONE


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while offset + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size:
            break
        out[kind & 0x3FFF] = data[offset + _RTATTR.size : offset + length]  # drop NLA_F_NESTED
        offset += (length + 3) & ~3
    return out


def _attr(kind: int, payload: bytes) -> bytes:
    raw = _RTATTR.pack(_RTATTR.size + len(payload), kind) + payload
    return raw + bytes(-len(raw) % 4)


def link(iface: str | int, netnsid: int | None = None) -> Link:
    """The interface named ``iface`` (or with that ifindex) in this network namespace, or
    in the one with id ``netnsid`` as seen from this one. Raises :class:`RtnlError`."""
    index = iface if isinstance(iface, int) else 0
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
    if isinstance(iface, str):
        body += _attr(_IFLA_IFNAME, iface.encode() + b"\0")
    if netnsid is not None:
        body += _attr(_IFLA_TARGET_NETNSID, struct.pack("=i", netnsid))
    request = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), _RTM_GETLINK, _NLM_F_REQUEST, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.settimeout(5)
        sock.send(request)
        data = sock.recv(65536)
    _length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data)
    if kind == _NLMSG_ERROR:
        err = -struct.unpack_from("=i", data, _NLMSGHDR.size)[0]
        raise RtnlError(err, f"RTM_GETLINK {iface!r}: {os.strerror(err)}")
    if kind != _RTM_NEWLINK:
        raise RtnlError(0, f"RTM_GETLINK {iface!r}: unexpected answer type {kind}")
    _family, _type, ifindex, _flags2, _change = _IFINFOMSG.unpack_from(data, _NLMSGHDR.size)
    attrs = _attrs(data, _NLMSGHDR.size + _IFINFOMSG.size)
    info = _attrs(attrs.get(_IFLA_LINKINFO, b""), 0)
    xdp = _attrs(attrs.get(_IFLA_XDP, b""), 0)
    peer_ns = attrs.get(_IFLA_LINK_NETNSID)
    return Link(
        name=attrs.get(_IFLA_IFNAME, b"").rstrip(b"\0").decode(),
        ifindex=ifindex,
        kind=info.get(_IFLA_INFO_KIND, b"").rstrip(b"\0").decode(),
        peer_ifindex=struct.unpack("=I", attrs[_IFLA_LINK])[0] if _IFLA_LINK in attrs else 0,
        peer_netnsid=struct.unpack("=i", peer_ns)[0] if peer_ns else None,
        xdp_attached=bool(xdp.get(_IFLA_XDP_ATTACHED, b"\0")[0]),
    )


def native_veth_warning(iface: str) -> str | None:
    """One line to show after a native attach to ``iface`` when it is a veth whose peer
    has no XDP program (so frames sent back with XDP_TX are dropped), else None.

    The peer's own state is read where the peer lives (see the module docstring); when it
    cannot be read, the line says so rather than staying silent.
    """
    here = link(iface)
    if here.kind != "veth" or not here.peer_ifindex:
        return None
    try:
        peer = link(here.peer_ifindex, here.peer_netnsid)
    except OSError as exc:
        return (
            f"warning: {iface} is a veth in native mode and its peer could not be read ({exc}): "
            "frames this program sends back (XDP_TX) reach the peer only if the peer has an "
            "XDP program of its own; attach one there, or use --mode generic"
        )
    if peer.xdp_attached:
        return None
    return (
        f"warning: {iface} is a veth in native mode and its peer {peer.name} has no XDP "
        "program, so frames this program sends back (XDP_TX: every order) are dropped; "
        f"attach an XDP program to {peer.name}, or use --mode generic"
    )
