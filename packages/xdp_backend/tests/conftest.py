"""Fixtures for the tickwire-xdp tests: a loaded program, and two namespaces joined by veth."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from tickwire.threshold.config import ThresholdConfig
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


@pytest.fixture
def pin(program: XdpProgram) -> Iterator[Callable[[ThresholdConfig], str]]:
    """Configure the session's program with a config and pin it under a throw-away
    interface name (nothing is attached), which the pin-reopening commands need; the pins
    are removed afterwards."""
    names: list[str] = []

    def pin_as(config: ThresholdConfig) -> str:
        name = f"twxpin{os.getpid() % 100000}"
        program.configure(config)
        program.pin(name)
        names.append(name)
        return name

    yield pin_as
    for name in names:
        XdpProgram.unpin(name)
