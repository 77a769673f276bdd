"""Fixtures for the tickwire-xdp tests: a loaded program, and two namespaces joined by veth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tickwire.xdp import XdpProgram
from tickwire.xdp.netns import VethPair, veth_pair


@pytest.fixture(scope="session")
def program() -> Iterator[XdpProgram]:
    """One loaded (unattached) program for the whole session: loading costs seconds."""
    prog = XdpProgram.load()
    try:
        yield prog
    finally:
        prog.close()


@pytest.fixture
def veth() -> Iterator[VethPair]:
    """Fresh namespaces and veth pair in 198.18.0.0/15, removed (pins too) afterwards."""
    with veth_pair() as net:
        try:
            yield net
        finally:
            XdpProgram.unpin(net.if_xdp)
