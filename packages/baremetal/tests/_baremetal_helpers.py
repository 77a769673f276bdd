"""Helpers shared by the tickwire-baremetal tests (uniquely named: pytest runs in
importlib mode and this directory is put on sys.path by conftest.py)."""

from __future__ import annotations

import ctypes
import shutil

from tickwire.baremetal import qemu_binary
from tickwire.baremetal.layout import config_blob, new_secret
from tickwire.threshold.cheader import ORDER_LENGTHS
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig

TOOLS = ("nasm", "gcc", "ld")


def tools_missing() -> list[str]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if qemu_binary() is None:
        missing.append("qemu-system-x86_64")
    return missing


BASE_CONFIG = ThresholdConfig(
    armed=True,
    max_orders=1000,
    first_user_ref_num=1,
    feed_port=26477,
    order_port=26400,
    order_session="TWORDERS01",
    instruments=(
        InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 500_000_000_000),
    ),
)


class CStrategy:
    """ctypes view of kernel/strategy.c compiled hosted: one tw_state per instance."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self._state = ctypes.create_string_buffer(lib.tw_state_size())
        self._out = ctypes.create_string_buffer(ORDER_LENGTHS["TW_ORDER_FRAME_QINQ_LEN"])

    def load(self, config: ThresholdConfig) -> int:
        blob = config_blob(config, new_secret())
        rc: int = self._lib.tw_load_config(self._state, blob, len(blob))
        return rc

    def load_raw(self, blob: bytes) -> int:
        rc: int = self._lib.tw_load_config(self._state, blob, len(blob))
        return rc

    def feed(self, frame: bytes) -> list[bytes]:
        n = self._lib.tw_process(self._state, frame, len(frame), self._out)
        return [self._out.raw[:n]] if n else []

    def counters(self) -> tuple[int, ...]:
        # struct tw_stats follows struct tw_config inside tw_state: read it through the
        # dedicated accessor-free layout (ten u64 after the config).
        raw = self._state.raw
        off = self._lib.tw_stats_offset()
        return tuple(
            int.from_bytes(raw[off + 8 * i : off + 8 * i + 8], "little") for i in range(10)
        )
