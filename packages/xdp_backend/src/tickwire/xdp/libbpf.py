"""A thin ctypes binding of the libbpf 1.x calls tickwire.xdp needs.

Why ctypes and not bcc or bpftool: the control plane must run without a compiler at run
time (the object is built once and cached) and must not shell out for map access, so
every call goes straight to ``libbpf.so.1``, which the Debian package ``libbpf-dev``
(or ``libbpf1``) installs. Only the handful of functions used are declared, each with
its exact C signature, so a wrong argument type is a ctypes error rather than memory
corruption.

libbpf 1.x returns a negative errno from its low-level calls (and NULL plus errno from
the constructors); :func:`check` turns both into :class:`LibbpfError`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno as errno_mod
import os
import threading
from typing import Any

__all__ = [
    "BPF_ANY",
    "BPF_EXIST",
    "BPF_F_LOCK",
    "BPF_NOEXIST",
    "XDP_FLAGS_DRV_MODE",
    "XDP_FLAGS_SKB_MODE",
    "XDP_FLAGS_UPDATE_IF_NOEXIST",
    "LibbpfError",
    "TestRunOpts",
    "capture_log",
    "check",
    "lib",
]

BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_LOCK = 4

XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2


class LibbpfError(OSError):
    """A libbpf call failed; ``errno`` is set, ``log`` holds libbpf's messages if any."""

    def __init__(self, call: str, err: int, log: str = "") -> None:
        self.call = call
        self.log = log
        message = f"{call}: {os.strerror(err)}"
        if log:
            message += "\n" + log
        super().__init__(err, message)


class TestRunOpts(ctypes.Structure):
    """``struct bpf_test_run_opts`` of libbpf 1.1 (bpf/bpf.h)."""

    __test__ = False  # not a pytest test class, whatever its name says
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


class XdpMd(ctypes.Structure):
    """``struct xdp_md`` (linux/bpf.h): the context of a test run, offsets into the frame."""

    _fields_ = [
        ("data", ctypes.c_uint32),
        ("data_end", ctypes.c_uint32),
        ("data_meta", ctypes.c_uint32),
        ("ingress_ifindex", ctypes.c_uint32),
        ("rx_queue_index", ctypes.c_uint32),
        ("egress_ifindex", ctypes.c_uint32),
    ]


class XdpAttachOpts(ctypes.Structure):
    """``struct bpf_xdp_attach_opts``."""

    _fields_ = [("sz", ctypes.c_size_t), ("old_prog_fd", ctypes.c_int)]


_vp = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "bpf_object__open_file": (_vp, [ctypes.c_char_p, _vp]),
    "bpf_object__load": (ctypes.c_int, [_vp]),
    "bpf_object__close": (None, [_vp]),
    "bpf_object__find_map_by_name": (_vp, [_vp, ctypes.c_char_p]),
    "bpf_object__find_program_by_name": (_vp, [_vp, ctypes.c_char_p]),
    "bpf_object__next_program": (_vp, [_vp, _vp]),
    "bpf_program__name": (ctypes.c_char_p, [_vp]),
    "bpf_program__set_autoload": (ctypes.c_int, [_vp, ctypes.c_bool]),
    "bpf_map__fd": (ctypes.c_int, [_vp]),
    "bpf_program__fd": (ctypes.c_int, [_vp]),
    "bpf_map_lookup_elem": (ctypes.c_int, [ctypes.c_int, _vp, _vp]),
    "bpf_map_lookup_elem_flags": (ctypes.c_int, [ctypes.c_int, _vp, _vp, ctypes.c_uint64]),
    "bpf_map_update_elem": (ctypes.c_int, [ctypes.c_int, _vp, _vp, ctypes.c_uint64]),
    "bpf_map_delete_elem": (ctypes.c_int, [ctypes.c_int, _vp]),
    "bpf_map_get_next_key": (ctypes.c_int, [ctypes.c_int, _vp, _vp]),
    "bpf_obj_pin": (ctypes.c_int, [ctypes.c_int, ctypes.c_char_p]),
    "bpf_obj_get": (ctypes.c_int, [ctypes.c_char_p]),
    "bpf_xdp_attach": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.c_uint32, _vp]),
    "bpf_xdp_detach": (ctypes.c_int, [ctypes.c_int, ctypes.c_uint32, _vp]),
    "bpf_xdp_query_id": (
        ctypes.c_int,
        [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_uint32)],
    ),
    "bpf_prog_test_run_opts": (ctypes.c_int, [ctypes.c_int, ctypes.POINTER(TestRunOpts)]),
    "bpf_prog_get_fd_by_id": (ctypes.c_int, [ctypes.c_uint32]),
    "ring_buffer__new": (_vp, [ctypes.c_int, _vp, _vp, _vp]),
    "ring_buffer__consume": (ctypes.c_int, [_vp]),
    "ring_buffer__poll": (ctypes.c_int, [_vp, ctypes.c_int]),
    "ring_buffer__epoll_fd": (ctypes.c_int, [_vp]),
    "ring_buffer__free": (None, [_vp]),
    "libbpf_num_possible_cpus": (ctypes.c_int, []),
    "libbpf_set_print": (_vp, [_vp]),
}

#: ``int (*)(void *ctx, void *data, size_t size)``: the ring buffer sample callback.
RING_BUFFER_SAMPLE_FN = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t
)
_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


class _Lib:
    """The loaded library with typed functions, created on first use."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("bpf") or "libbpf.so.1"
        try:
            self.cdll = ctypes.CDLL(name, use_errno=True)
        except OSError:
            self.cdll = ctypes.CDLL("libbpf.so.1", use_errno=True)
        for fn, (restype, argtypes) in _SIGNATURES.items():
            f = getattr(self.cdll, fn)
            f.restype = restype
            f.argtypes = argtypes
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        self._libc.vsnprintf.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_char_p,
            ctypes.c_void_p,
        ]
        self._libc.vsnprintf.restype = ctypes.c_int
        self._log_lock = threading.Lock()
        self._log: list[str] | None = None
        # libbpf prints warnings and the verifier log through this hook; keep a reference
        # to the callback for the life of the process (libbpf holds a raw pointer).
        self._printer = _PRINT_FN(self._print)
        self.cdll.libbpf_set_print(ctypes.cast(self._printer, ctypes.c_void_p))

    def _print(self, level: int, fmt: bytes | None, va_list: int | None) -> int:
        if fmt is None:
            return 0
        buf = ctypes.create_string_buffer(8192)
        self._libc.vsnprintf(buf, len(buf), fmt, va_list)
        if self._log is not None:
            self._log.append(buf.value.decode("utf-8", "replace"))
        return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cdll, name)


_lib: _Lib | None = None
_lib_lock = threading.Lock()


def lib() -> _Lib:
    """The libbpf binding (loaded once). Raises OSError when libbpf.so.1 is missing."""
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = _Lib()
        return _lib


class capture_log:
    """Context manager collecting what libbpf prints (warnings, the verifier log)."""

    def __enter__(self) -> list[str]:
        lb = lib()
        lb._log_lock.acquire()
        lb._log = []
        return lb._log

    def __exit__(self, *exc: object) -> None:
        lb = lib()
        lb._log = None
        lb._log_lock.release()


def check(call: str, ret: int, log: list[str] | None = None) -> int:
    """Return ``ret`` when >= 0, else raise :class:`LibbpfError` with its errno."""
    if ret >= 0:
        return ret
    err = -ret if ret < -1 else (ctypes.get_errno() or errno_mod.EPERM)
    raise LibbpfError(call, err, "".join(log or []).strip())


def check_ptr(call: str, ptr: int | None, log: list[str] | None = None) -> int:
    """Return ``ptr`` when not NULL, else raise :class:`LibbpfError` from errno."""
    if ptr:
        return ptr
    raise LibbpfError(call, ctypes.get_errno() or errno_mod.EINVAL, "".join(log or []).strip())
