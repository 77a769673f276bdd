"""Deprecated: the argument types and the error boundary of every tickwire command line
moved to tickwire-cli (:mod:`tickwire.cli`; ``docs/cli.md``). This module re-exports them
for one minor version (to be removed in tickwire-moldudp64 0.4); the MoldUDP64 session
type is :func:`tickwire.moldudp64.cli.session`.
"""

from __future__ import annotations

import warnings

from tickwire.cli.args import (
    existing_file,
    int_range,
    ipv4,
    iso_date,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    tcp_udp_port,
    tcp_udp_port_or_any,
    vlan_tci,
)
from tickwire.cli.boundary import DATA_ERRORS, UsageError, one_line, run_cli

from .cli import session

__all__ = [
    "DATA_ERRORS",
    "UsageError",
    "existing_file",
    "int_range",
    "ipv4",
    "iso_date",
    "non_negative_float",
    "non_negative_int",
    "one_line",
    "positive_float",
    "positive_int",
    "probability",
    "run_cli",
    "session",
    "tcp_udp_port",
    "tcp_udp_port_or_any",
    "vlan_tci",
]

warnings.warn(
    "tickwire.moldudp64.cliargs is deprecated: use tickwire.cli",
    DeprecationWarning,
    stacklevel=2,
)
