"""Boot the kernel under QEMU and talk to it over a loopback UDP link.

The e1000 is attached to a ``-netdev dgram`` backend (QEMU 7.2+; ``-netdev socket,udp=``
on older versions): every Ethernet frame the guest transmits arrives as one UDP datagram
on the host's socket, and every datagram the host sends to QEMU's local port is received
by the NIC as one frame. Only 127.0.0.1 is ever used.

The serial port (COM1) is QEMU's stdout; a reader thread collects its lines, so the
boot banner, statistics reports and fatal errors can be awaited with a timeout. The
QEMU process is always killed by :meth:`Guest.close` (also on errors, and as a context
manager), so a test can never leave an emulator spinning.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from tickwire.threshold.config import InstrumentConfig, ThresholdConfig

from . import layout
from .build import build_kernel
from .layout import Command, CommandResult
from .stats import GuestReport, parse_report

__all__ = [
    "ACCEL_ENV",
    "Guest",
    "GuestError",
    "default_accel",
    "kvm_usable",
    "qemu_binary",
]

GUEST_MAC = "52:54:00:12:34:56"
MAX_FRAME = 16384  # RCTL.LPE: the largest frame QEMU's e1000 accepts
MIN_FRAME = 60  # QEMU's e1000 pads shorter frames to this, so they travel wrapped
DEFAULT_WINDOW = 64  # frames in flight, well under the 256-descriptor RX ring


class GuestError(RuntimeError):
    """QEMU failed to start, the kernel reported a fatal error, or a reply timed out."""


def qemu_binary() -> str | None:
    """Path of qemu-system-x86_64, or None when it is not installed."""
    return shutil.which("qemu-system-x86_64")


def kvm_usable() -> bool:
    """True when /dev/kvm can be opened read-write (QEMU still falls back to TCG if not)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


ACCEL_ENV = "TICKWIRE_BAREMETAL_ACCEL"


def _nested() -> bool:
    """True when this host is itself a virtual machine (the CPU's hypervisor flag)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return " hypervisor" in line
    except OSError:
        pass
    return False


def default_accel() -> str:
    """The accelerator ``auto`` resolves to: ``$TICKWIRE_BAREMETAL_ACCEL`` when set;
    else ``tcg`` on a host that is itself a VM (nested KVM boots in ~10 s and round-trips
    in ~8 ms there, TCG in 0.3 s and ~1 ms: see bench/RESULTS.md); else ``auto``, which
    is KVM when /dev/kvm works and TCG otherwise."""
    env = os.environ.get(ACCEL_ENV, "").strip().lower()
    if env in ("auto", "kvm", "tcg"):
        return env
    return "tcg" if _nested() else "auto"


def _die_with_parent() -> None:
    """Runs in the child before exec: QEMU gets SIGKILL if the Python process dies
    (prctl PR_SET_PDEATHSIG), so not even a crashed test run leaves it spinning."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Guest:
    """One running kernel under QEMU.

    ``accel`` is ``"auto"`` (KVM when /dev/kvm is usable, TCG otherwise; QEMU also falls
    back to TCG itself if KVM fails to initialise), ``"kvm"`` or ``"tcg"``; None (the
    default) takes :func:`default_accel`. The kernel
    reports which one it got (CPUID hypervisor signature) in :attr:`accel`.
    """

    def __init__(
        self,
        config: ThresholdConfig,
        *,
        accel: str | None = None,
        ack_frames: bool = True,
        boot_timeout: float = 60.0,
        reply_timeout: float = 10.0,
        image: Path | None = None,
    ) -> None:
        accel = accel or default_accel()
        if accel not in ("auto", "kvm", "tcg"):
            raise ValueError(f"accel must be auto, kvm or tcg, got {accel!r}")
        self.config = config
        self.secret = layout.new_secret()
        self.ack_frames = ack_frames
        self.reply_timeout = reply_timeout
        self.accel = "unknown"
        self.serial_log: list[str] = []
        self._accel_request = accel
        self._boot_timeout = boot_timeout
        self._image = image
        self._seq = itertools.count(1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._stderr: list[str] = []
        self._frames_sent = 0  # strategy frames delivered (wrapping the kernel's 32-bit ack)
        self.exit_status: int | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Guest:
        """Build (cached) and boot the kernel; return once it prints READY.

        QEMU's UDP port is picked free just before launch; if another process takes it
        in between, QEMU fails to bind and the boot is retried on a fresh port."""
        try:
            for attempt in range(3):
                try:
                    return self._launch()
                except GuestError:
                    if attempt == 2 or not any("in use" in ln for ln in self._stderr):
                        raise
                    self._reap()
        except BaseException:
            self.close()
            raise
        raise AssertionError("unreachable")

    def _reap(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(timeout=10)
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()
            self._proc = None

    def _launch(self) -> Guest:
        qemu = qemu_binary()
        if qemu is None:
            raise GuestError(
                "qemu-system-x86_64 not found (scripts/setup.sh installs qemu-system-x86)"
            )
        image = self._image or build_kernel()
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tickwire-bm-")
        blob = Path(self._tmp.name) / "config.bin"
        blob.write_bytes(layout.config_blob(self.config, self.secret, ack_frames=self.ack_frames))
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self._sock.bind(("127.0.0.1", 0))
        host_port = self._sock.getsockname()[1]
        self._guest_port = _free_udp_port()
        # Only QEMU's port may answer: the kernel's replies carry no secret, and another
        # local process sending one for the next command was taken for the kernel's
        # (test_baremetal_guest.py::test_a_reply_from_another_local_socket_is_not_the_kernels).
        self._sock.connect(("127.0.0.1", self._guest_port))
        self._lines = queue.Queue()
        self._stderr = []
        self.serial_log = []
        accel: list[str]
        if self._accel_request == "kvm" or (self._accel_request == "auto" and kvm_usable()):
            accel = (
                ["-accel", "kvm", "-accel", "tcg"]
                if self._accel_request == "auto"
                else ["-accel", "kvm"]
            )
        else:
            accel = ["-accel", "tcg"]
        cmd = [
            qemu,
            *accel,
            "-M", "pc",
            "-m", "64",
            "-nodefaults",
            "-display", "none",
            "-no-reboot",
            "-serial", "stdio",
            "-monitor", "none",
            "-kernel", str(image),
            "-fw_cfg", f"name=opt/tickwire/config,file={blob}",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-netdev",
            "dgram,id=n0,local.type=inet,local.host=127.0.0.1,"
            f"local.port={self._guest_port},remote.type=inet,remote.host=127.0.0.1,"
            f"remote.port={host_port}",
            "-device", f"e1000,netdev=n0,mac={GUEST_MAC}",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        proc = self._proc
        threading.Thread(
            target=self._read_serial, args=(proc, self._lines, self.serial_log), daemon=True
        ).start()
        threading.Thread(target=self._read_stderr, args=(proc, self._stderr), daemon=True).start()
        ready = self._wait_line(lambda ln: ln.startswith("READY"), self._boot_timeout)
        for part in ready.split():
            if part.startswith("accel="):
                self.accel = part.split("=", 1)[1]
        return self

    def __enter__(self) -> Guest:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self, *, timeout: float = 5.0) -> None:
        """Ask the kernel to exit cleanly, then make sure QEMU is gone."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None and self._sock is not None:
                with contextlib.suppress(OSError):
                    self._send(self._control(Command.EXIT, b"\x00"))
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=timeout)
            self.exit_status = proc.returncode
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            self._proc = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def kill(self) -> None:
        """Kill QEMU at once (no statistics at exit)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self.close()

    @property
    def running(self) -> bool:
        """True while the QEMU process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- serial ---------------------------------------------------------------------------
    @staticmethod
    def _read_serial(
        proc: subprocess.Popen[bytes], lines: queue.Queue[str | None], log: list[str]
    ) -> None:
        assert proc.stdout is not None
        with contextlib.suppress(ValueError, OSError):  # the pipe closed under us
            for raw in proc.stdout:
                line = raw.decode("ascii", "replace").rstrip("\r\n")
                log.append(line)
                lines.put(line)
        lines.put(None)

    @staticmethod
    def _read_stderr(proc: subprocess.Popen[bytes], out: list[str]) -> None:
        assert proc.stderr is not None
        with contextlib.suppress(ValueError, OSError):
            for raw in proc.stderr:
                out.append(raw.decode("utf-8", "replace").rstrip())

    def _wait_line(self, want: object, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestError(
                    f"timed out after {timeout:.1f}s waiting for the kernel; serial: {self.serial_log[-5:]}"
                )
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                if self._proc is not None:  # let the stderr reader finish first
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self._proc.wait(timeout=5)
                time.sleep(0.1)
                raise GuestError(
                    f"QEMU exited (status {self._proc.poll() if self._proc else None}); "
                    f"serial: {self.serial_log[-5:]} stderr: {self._stderr[-5:]}"
                )
            if line.startswith("FATAL"):
                raise GuestError(f"kernel: {line}")
            if callable(want) and want(line):
                return line

    # -- network --------------------------------------------------------------------------
    def _send(self, frame: bytes) -> None:
        assert self._sock is not None
        self._sock.send(frame)  # connected to QEMU's port (_launch)

    def _recv(self, timeout: float) -> bytes:
        assert self._sock is not None
        self._sock.settimeout(timeout)
        try:
            return self._sock.recv(65536)
        except TimeoutError:
            raise GuestError(
                f"no reply from the guest within {timeout:.1f}s (running={self.running}); "
                f"serial: {self.serial_log[-3:]}"
            ) from None
        except ConnectionRefusedError:  # connected: QEMU's port is gone
            raise GuestError(
                f"the guest's port refused the frame (running={self.running}); "
                f"serial: {self.serial_log[-3:]}"
            ) from None

    def _control(self, command: Command, body: bytes = b"") -> bytes:
        return layout.build_control(self.secret, next(self._seq) & 0xFFFFFFFF, command, body)

    def command(self, command: Command, body: bytes = b"") -> CommandResult:
        """Send one control command and wait for its answer."""
        frame = self._control(command, body)
        seq = layout.control_seq(frame)
        self._send(frame)
        deadline = time.monotonic() + self.reply_timeout
        while True:
            data = self._recv(max(deadline - time.monotonic(), 0.001))
            ack = layout.parse_ack(data)
            if ack is not None and ack.kind == layout.ACK_KIND_DONE and ack.a == seq:
                self._frames_sent = ack.c  # the kernel's frame count at this command
                return CommandResult(ack.b)

    def _frame_for_wire(self, frame: bytes) -> bytes:
        if len(frame) > MAX_FRAME:
            raise ValueError(
                f"frame of {len(frame)} bytes exceeds the e1000's {MAX_FRAME}-byte limit"
            )
        if len(frame) < MIN_FRAME:
            # QEMU's e1000 pads runts to 60 bytes, which would change the frame length
            # the strategy sees; deliver them inside a FRAME command with their length.
            return self._control(Command.FRAME, len(frame).to_bytes(2, "little") + frame)
        return frame

    def process(
        self, frames: Iterable[bytes], *, window: int = DEFAULT_WINDOW
    ) -> list[list[bytes]]:
        """Feed frames (ack mode) and return the order frames each one caused.

        Up to ``window`` frames are in flight; the kernel acknowledges every frame after
        its order (if any) left the TX ring, so replies map back to inputs exactly.
        """
        if not self.ack_frames:
            raise GuestError("process() needs ack mode (Guest(..., ack_frames=True))")
        pending = [self._frame_for_wire(bytes(f)) for f in frames]
        out: list[list[bytes]] = [[] for _ in pending]
        sent = done = 0
        base = self._frames_sent
        while done < len(pending):
            while sent < len(pending) and sent - done < window:
                self._send(pending[sent])
                sent += 1
            data = self._recv(self.reply_timeout)
            ack = layout.parse_ack(data)
            if ack is None:
                out[done].append(data)  # an order frame: it belongs to the oldest open frame
                continue
            if ack.kind != layout.ACK_KIND_FRAME:
                continue
            if ack.a != (base + done + 1) & 0xFFFFFFFF:
                raise GuestError(
                    f"frame ack {ack.a} out of order (expected {(base + done + 1) & 0xFFFFFFFF})"
                )
            done += 1
        self._frames_sent += len(pending)
        return out

    def timed_process(self, frame: bytes) -> tuple[list[bytes], int | None]:
        """Feed one frame (ack mode); return its order frames and the nanoseconds from
        the host's send to the first order frame's arrival (None when it sent none)."""
        if not self.ack_frames:
            raise GuestError("timed_process() needs ack mode")
        wire = self._frame_for_wire(bytes(frame))
        expect = (self._frames_sent + 1) & 0xFFFFFFFF
        orders: list[bytes] = []
        rtt: int | None = None
        t0 = time.perf_counter_ns()
        self._send(wire)
        while True:
            data = self._recv(self.reply_timeout)
            ack = layout.parse_ack(data)
            if ack is None:
                if rtt is None:
                    rtt = time.perf_counter_ns() - t0
                orders.append(data)
            elif ack.kind == layout.ACK_KIND_FRAME:
                if ack.a != expect:
                    raise GuestError(f"frame ack {ack.a} out of order (expected {expect})")
                self._frames_sent += 1
                return orders, rtt

    def blast(self, frames: Sequence[bytes], *, window: int = DEFAULT_WINDOW) -> list[bytes]:
        """Send frames without per-frame acks (ack mode off) and collect whatever orders
        come back until a final SYNC answers; used by the benchmark and traffic generator."""
        replies: list[bytes] = []
        for i, f in enumerate(frames):
            self._send(self._frame_for_wire(bytes(f)))
            if i % window == window - 1:
                replies.extend(self._drain_until_sync())
        replies.extend(self._drain_until_sync())
        return replies

    def _drain_until_sync(self) -> list[bytes]:
        frame = self._control(Command.SYNC)
        seq = layout.control_seq(frame)
        self._send(frame)
        got: list[bytes] = []
        while True:
            data = self._recv(self.reply_timeout)
            ack = layout.parse_ack(data)
            if ack is None:
                got.append(data)
            elif ack.kind == layout.ACK_KIND_DONE and ack.a == seq:
                self._frames_sent = ack.c  # the kernel's frame count: acks continue from it
                return got

    def sync(self) -> int:
        """Barrier: returns once every earlier frame is processed; the kernel's frame count."""
        frame = self._control(Command.SYNC)
        seq = layout.control_seq(frame)
        self._send(frame)
        while True:
            ack = layout.parse_ack(self._recv(self.reply_timeout))
            if ack is not None and ack.kind == layout.ACK_KIND_DONE and ack.a == seq:
                self._frames_sent = ack.c
                return ack.c

    # -- control --------------------------------------------------------------------------
    def report(self) -> GuestReport:
        """Ask for statistics and the histogram and parse the serial report."""
        frame = self._control(Command.STATS)
        seq = layout.control_seq(frame)
        self._send(frame)
        self._wait_line(
            lambda ln: ln.startswith("STATS") and f" seq={seq} " in ln, self.reply_timeout
        )
        start = len(self.serial_log) - 1
        while (
            not self.serial_log[start].startswith("STATS")
            or f" seq={seq} " not in self.serial_log[start]
        ):
            start -= 1
        self._wait_line(lambda ln: ln == f"END seq={seq}", self.reply_timeout)
        end = self.serial_log.index(f"END seq={seq}", start)
        return parse_report(self.serial_log[start : end + 1])

    def reconfigure(self, config: ThresholdConfig) -> None:
        """Load a new config at run time: statistics, positions and histogram reset."""
        blob = layout.config_blob(config, self.secret, ack_frames=self.ack_frames)
        result = self.command(Command.CONFIG, blob)
        if result != CommandResult.OK:
            raise GuestError(f"kernel refused the config: {result.name}")
        self.config = config
        self._frames_sent = 0

    def set_armed(self, armed: bool) -> CommandResult:
        """The kill switch at run time."""
        return self.command(Command.ARM, b"\x01" if armed else b"\x00")

    def set_max_orders(self, max_orders: int) -> CommandResult:
        """Change the run's order limit at run time."""
        return self.command(Command.MAX_ORDERS, max_orders.to_bytes(4, "little"))

    def set_limits(self, instrument: InstrumentConfig) -> CommandResult:
        """Change one instrument's max order quantity, max position and max notional."""
        body = layout.LIMITS.build(
            {
                "locate": instrument.locate,
                "max_order_qty": instrument.max_order_qty,
                "max_position": instrument.max_position,
                "max_notional": instrument.max_notional,
            }
        )
        return self.command(Command.LIMITS, bytes(body))

    def set_ack_frames(self, on: bool) -> CommandResult:
        """Turn per-frame acknowledgements on or off."""
        result = self.command(Command.ACK, b"\x01" if on else b"\x00")
        if result == CommandResult.OK:
            self.ack_frames = on
        return result

    def send_raw(self, frame: bytes) -> None:
        """Send one frame as is (no wrapping, no ack wait): for injection tests."""
        self._send(frame)

    def exit(self, code: int = 0, *, timeout: float = 10.0) -> GuestReport:
        """End the run: the kernel prints its final report and exits via isa-debug-exit.

        QEMU's exit status is ``(code << 1) | 1``; the report is returned."""
        frame = self._control(Command.EXIT, bytes([code]))
        seq = layout.control_seq(frame)
        self._send(frame)
        assert self._proc is not None
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise GuestError("the kernel did not exit after EXIT") from None
        self.exit_status = self._proc.returncode
        deadline = time.monotonic() + 2.0
        while f"END seq={seq}" not in self.serial_log and time.monotonic() < deadline:
            time.sleep(0.01)
        start = max(
            i
            for i, ln in enumerate(self.serial_log)
            if ln.startswith("STATS") and f" seq={seq} " in ln
        )
        end = self.serial_log.index(f"END seq={seq}", start)
        report = parse_report(self.serial_log[start : end + 1])
        status = self.exit_status
        self.close()
        self.exit_status = status
        return report
