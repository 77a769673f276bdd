# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled ITCH 5.0 codec: the fast path behind :mod:`tickwire.itch.fastpath`.

Nothing here knows a message layout by heart. :mod:`tickwire.itch.fastpath` walks the
construct table in :mod:`tickwire.itch.messages` (the one place layouts are written) and
hands this module, per message type, a list of field descriptors: the field's wire
kind, byte position and width, the byte offset of its ``__slots__`` member in the
dataclass instance, and for one-character Alpha fields the 256-entry table of decoded
values (the very objects the pure path returns: StrEnum members or raw characters).

Decoding allocates the frozen, slotted dataclass with ``PyType_GenericAlloc`` and stores
each value straight into its slot. That skips the generated ``__init__`` (which, for a
frozen dataclass, goes through ``object.__setattr__`` once per field) and is where most
of the speed comes from; the resulting objects are indistinguishable from the pure
path's (same class, same field values, same identity for enum members), which the
hypothesis tests check against the construct path.

Anything unusual (empty input, unknown type, truncation, a value that does not fit on
encode) is handed to the pure-Python implementation, so errors are raised by one piece
of code only and carry exactly the same type and message on both paths.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.stdint cimport int32_t, uint16_t, uint32_t
from libc.string cimport memcpy, memset

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    PyObject* PyType_GenericAlloc(PyTypeObject* t, Py_ssize_t nitems)
    object PyLong_FromLong(long v)
    object PyLong_FromUnsignedLongLong(unsigned long long v)
    unsigned long long PyLong_AsUnsignedLongLong(object o) except? <unsigned long long>-1
    bint PyLong_Check(object o)
    bint PyUnicode_Check(PyObject* o)
    Py_ssize_t PyUnicode_GET_LENGTH(PyObject* o)
    unsigned int PyUnicode_KIND(PyObject* o)
    unsigned int PyUnicode_1BYTE_KIND
    const uint8_t* PyUnicode_1BYTE_DATA(PyObject* o)
    object PyUnicode_DecodeLatin1(const char* s, Py_ssize_t size, const char* errors)
    int T_OBJECT_EX
    int Py_TPFLAGS_HAVE_GC
    void PyErr_Clear()
    void PyObject_GC_UnTrack(void* o)
    object PyList_New(Py_ssize_t n)

# Wire kinds of a field: the numbers of tickwire.itch.layouts.FieldKind, which fastpath.py
# passes to configure(); configure() refuses them unless they equal FIELD_KINDS below.
cdef enum:
    K_U16 = 1
    K_U32 = 2
    K_U64 = 3
    K_TS48 = 4
    K_CODE = 5   # one-character Alpha: decoded through a 256-entry table
    K_ALPHA = 6  # multi-character Alpha: latin-1, right space padding stripped
    MAX_FIELDS = 24

cdef struct Field:
    int kind
    int pos
    int width
    Py_ssize_t slot
    PyObject** table

cdef struct Spec:
    PyTypeObject* cls
    int length
    int nfields
    Field fields[MAX_FIELDS]

cdef Spec _specs[256]
cdef bint _known[256]
cdef object _keepalive = []        # owns the classes and code tables the C arrays borrow
cdef dict _encode_index = {}       # message class -> type byte
cdef object _pure_decode = None    # tickwire.itch.messages.decode
cdef object _pure_encode = None    # tickwire.itch.messages.encode
cdef bint _configured = False

memset(_known, 0, sizeof(_known))

#: The kind numbers compiled in above, by FieldKind name.
FIELD_KINDS = {
    "U16": K_U16,
    "U32": K_U32,
    "U64": K_U64,
    "TS48": K_TS48,
    "CODE": K_CODE,
    "ALPHA": K_ALPHA,
}


def configure(dict kinds, list specs, pure_decode, pure_encode):
    """Install the per-type field descriptors computed by fastpath.py.

    ``kinds`` is the caller's kind name -> number mapping (from
    ``tickwire.itch.layouts.FieldKind``); a ValueError unless it equals
    :data:`FIELD_KINDS`, so a drift between the two is refused before any spec is used.
    ``specs`` holds ``(type_byte, cls, length, fields)`` with ``fields`` a list of
    ``(kind, pos, width, slot_descriptor, table_or_None)`` in wire order.
    """
    if kinds != FIELD_KINDS:
        raise ValueError(f"field kinds {kinds} != the compiled ones {FIELD_KINDS}")
    global _pure_decode, _pure_encode, _configured
    cdef int t, i, b
    cdef Spec* s
    cdef Field* f
    cdef PyMemberDef* member
    for t in range(256):
        _known[t] = False
    _encode_index.clear()
    for entry in specs:
        t, cls, length, fields = entry
        if not isinstance(cls, type):
            raise TypeError(f"{cls!r} is not a class")
        if not ((<PyTypeObject*>cls).tp_flags & Py_TPFLAGS_HAVE_GC):
            raise TypeError(f"{cls!r}: expected a GC-tracked class")  # dataclasses are
        if len(fields) > MAX_FIELDS:
            raise ValueError(f"{cls!r}: too many fields")
        s = &_specs[t]
        s.cls = <PyTypeObject*>cls
        s.length = length
        s.nfields = len(fields)
        _keepalive.append(cls)
        for i, (kind, pos, width, descr, table) in enumerate(fields):
            if type(descr).__name__ != "member_descriptor":
                raise TypeError(f"{cls!r}: field {i} is not a __slots__ member")
            member = (<PyMemberDescrObject*><PyObject*>descr).d_member
            if member.type != T_OBJECT_EX:
                raise TypeError(f"{cls!r}: slot {member.name!r} is not an object slot")
            if pos < 1 or pos + width > length:
                raise ValueError(f"{cls!r}: field {i} outside the message")
            f = &s.fields[i]
            f.kind = kind
            f.pos = pos
            f.width = width
            f.slot = member.offset
            f.table = NULL
            if kind == K_CODE:
                table = tuple(table)
                if len(table) != 256:
                    raise ValueError("a code table needs 256 entries")
                _keepalive.append(table)
                f.table = <PyObject**>malloc(256 * sizeof(PyObject*))
                if f.table == NULL:
                    raise MemoryError()
                for b in range(256):
                    f.table[b] = <PyObject*>table[b]
            elif kind not in (K_U16, K_U32, K_U64, K_TS48, K_ALPHA):
                raise ValueError(f"unknown field kind {kind}")
        _known[t] = True
        _encode_index[cls] = t
    _pure_decode = pure_decode
    _pure_encode = pure_encode
    _configured = True


cdef inline uint64_t _be(const uint8_t* q, int width) nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(width):
        v = (v << 8) | q[i]
    return v


cdef object _build(const uint8_t* p, Spec* s):
    """Decode the message at ``p`` (type byte first; length already checked)."""
    cdef PyObject* raw = PyType_GenericAlloc(s.cls, 0)
    if raw == NULL:
        raise MemoryError()
    cdef object obj = <object>raw
    Py_DECREF(obj)  # the cast took a second reference; ``obj`` now owns the only one
    cdef int i, n
    cdef Field* f
    cdef const uint8_t* q
    cdef object v
    for i in range(s.nfields):
        f = &s.fields[i]
        q = p + f.pos
        if f.kind == K_CODE:
            v = <object>f.table[q[0]]
        elif f.kind == K_U16:
            v = PyLong_FromLong((q[0] << 8) | q[1])
        elif f.kind == K_U32:
            v = PyLong_FromLong(
                (<long>q[0] << 24) | (<long>q[1] << 16) | (<long>q[2] << 8) | <long>q[3]
            )
        elif f.kind == K_ALPHA:
            n = f.width
            while n > 0 and q[n - 1] == 32:
                n -= 1
            v = PyUnicode_DecodeLatin1(<const char*>q, n, NULL)
        else:  # K_U64, K_TS48
            v = PyLong_FromUnsignedLongLong(_be(q, f.width))
        Py_INCREF(v)
        (<PyObject**>(<char*>raw + f.slot))[0] = <PyObject*>v
    # Every value is an int or a str (enum members included): atoms that cannot form a
    # reference cycle, so the cycle collector has nothing to find here. Untracking (as
    # CPython does for tuples of atoms) keeps millions of fresh messages from triggering
    # collections that traverse them all, which otherwise halves the decode rate.
    PyObject_GC_UnTrack(raw)
    return obj


def decode(data):
    """Decode one message starting at its type byte (bytes past its length ignored)."""
    cdef Py_buffer view
    cdef const uint8_t* p
    cdef Py_ssize_t n
    if type(data) is bytes:
        p = <const uint8_t*>PyBytes_AS_STRING(data)
        n = len(<bytes>data)
        if n > 0 and _known[p[0]] and n >= _specs[p[0]].length:
            return _build(p, &_specs[p[0]])
        return _pure_decode(data)
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>view.buf
        if view.len > 0 and _known[p[0]] and view.len >= _specs[p[0]].length:
            return _build(p, &_specs[p[0]])
    finally:
        PyBuffer_Release(&view)
    return _pure_decode(data)


def encode(msg):
    """Encode one message to its wire bytes; the pure encoder raises on bad values."""
    t = _encode_index.get(type(msg))
    if t is None:
        return _pure_encode(msg)
    cdef Spec* s = &_specs[<int>t]
    cdef bytes out = PyBytes_FromStringAndSize(NULL, s.length)
    cdef uint8_t* p = <uint8_t*>PyBytes_AS_STRING(out)
    if _fill(p, <PyObject*>msg, s, <int>t) < 0:
        return _pure_encode(msg)  # raises EncodeError with the reason
    return out


cdef int _fill(uint8_t* p, PyObject* msg, Spec* s, int t):
    """Write ``msg`` into ``p``; -1 (no exception set) when a value does not fit."""
    cdef int i, j, n
    cdef Field* f
    cdef PyObject* v
    cdef uint64_t x
    cdef uint8_t* q
    cdef const uint8_t* src
    p[0] = <uint8_t>t
    for i in range(s.nfields):
        f = &s.fields[i]
        v = (<PyObject**>(<char*>msg + f.slot))[0]
        if v == NULL:
            return -1
        q = p + f.pos
        if f.kind == K_CODE or f.kind == K_ALPHA:
            if not PyUnicode_Check(v) or PyUnicode_KIND(v) != PyUnicode_1BYTE_KIND:
                return -1
            n = PyUnicode_GET_LENGTH(v)
            if f.kind == K_CODE:
                if n != 1:
                    return -1
            elif n > f.width:
                return -1
            src = PyUnicode_1BYTE_DATA(v)
            memcpy(q, src, n)
            for j in range(n, f.width):
                q[j] = 32
        else:
            if not PyLong_Check(<object>v):
                return -1
            try:
                x = PyLong_AsUnsignedLongLong(<object>v)
            except (OverflowError, ValueError, TypeError):
                return -1
            if f.width < 8 and (x >> (8 * f.width)) != 0:
                return -1
            for j in range(f.width - 1, -1, -1):
                q[j] = <uint8_t>(x & 0xFF)
                x >>= 8
    return 0


# --------------------------------------------------------------------------------------
# Framing: the one BinaryFILE loop, and the C sinks it can feed
# --------------------------------------------------------------------------------------

# The message sink ABI (version 1). A sink is a Python object whose ``itch_sink()``
# returns a PyCapsule named "tickwire.itch.sink" that points to this struct; the
# framers call ``message(ctx, msg, len)`` for every framed message of a known type (the
# type byte first, ``len`` the type's length), in input order, with the GIL held. It
# returns 0, or -1 with a Python exception set (which the framer then raises). The
# capsule must keep ``ctx`` alive (e.g. hold a reference to the object it belongs to);
# the framer keeps the sink object and the capsule for as long as it is attached.
#
# Why a capsule and not a ``.pxd`` to cimport: a cimport would make the sink's package
# (tickwire-engine) need tickwire-itch's sources at its build time (a build requirement
# under build isolation, and a rebuild whenever this module's cdef classes change), and
# would tie the two compiled modules' layouts together at compile time. A named capsule
# holding a versioned two-member struct is checked at run time (``attach`` refuses any
# other name or ABI), the two wheels build and install independently, and the only
# thing restated on the other side is this struct.
cdef extern from *:
    """
    typedef int (*tickwire_itch_sink_fn)(void *ctx, const unsigned char *msg, size_t len);
    typedef struct tickwire_itch_sink {
        unsigned int abi;
        tickwire_itch_sink_fn message;
        void *ctx;
    } tickwire_itch_sink;
    #define TICKWIRE_ITCH_SINK_ABI 1u
    """
    ctypedef int (*tickwire_itch_sink_fn)(
        void* ctx, const unsigned char* msg, size_t length
    ) except -1
    ctypedef struct tickwire_itch_sink:
        unsigned int abi
        tickwire_itch_sink_fn message
        void* ctx
    unsigned int TICKWIRE_ITCH_SINK_ABI

cdef extern from "Python.h":
    void* PyCapsule_GetPointer(object capsule, const char* name) except? NULL
    bint PyCapsule_IsValid(object capsule, const char* name)

#: The capsule name and ABI version a sink's ``itch_sink()`` must give.
SINK_CAPSULE = "tickwire.itch.sink"
SINK_ABI = TICKWIRE_ITCH_SINK_ABI
cdef enum:
    MAX_SINKS = 8


cdef class _Framer:
    """The BinaryFILE framing loop (one copy, for :class:`FrameDecoder` and
    :class:`ColumnBuilder`), its counters, and the C sinks attached to it.

    Framing rules (shared with the pure reader): a length prefix of 0 or one that
    disagrees with the type's fixed length is replaced by the type's length and counted
    in ``length_fixups``; an unknown type is skipped by its prefix and counted in
    ``skipped``. :meth:`_frame` handles every complete frame of a buffer from ``start``
    and stops at the first incomplete one, or at an unknown type whose prefix is 0 (it
    cannot be skipped). ``limit`` bounds how much one call handles (frames starting
    before it), so a caller can walk a large buffer in slices without copying it.

    Every message of a known type goes to the subclass's :meth:`_message`, then to each
    attached sink (:meth:`attach`), in order: one read and one framing of the input feed
    the subclass's output and every sink (``python -m tickwire.itch convert`` feeds the
    engine's compiled book this way, with no Python call per message).
    """

    cdef public long long messages
    cdef public long long skipped
    cdef public long long length_fixups
    cdef long long _by_type[256]
    cdef tickwire_itch_sink* _sinks[MAX_SINKS]
    cdef int _nsinks
    cdef list _sink_refs

    def __cinit__(self):
        if not _configured:
            raise RuntimeError("tickwire.itch._fast.configure() has not run")
        self.messages = 0
        self.skipped = 0
        self.length_fixups = 0
        memset(self._by_type, 0, sizeof(self._by_type))
        self._nsinks = 0
        self._sink_refs = []

    @property
    def by_type(self):
        """Type letter -> number of messages framed."""
        return {chr(t): self._by_type[t] for t in range(256) if self._by_type[t]}

    def attach(self, sink):
        """Feed every message framed from now on to ``sink`` as well: an object whose
        ``itch_sink()`` returns a ``"tickwire.itch.sink"`` capsule (see the ABI above).
        A TypeError for anything else, a ValueError for another ABI version or past 8
        sinks."""
        cap = sink.itch_sink()
        if not PyCapsule_IsValid(cap, "tickwire.itch.sink"):
            raise TypeError(
                f"{type(sink).__name__}.itch_sink() did not return a 'tickwire.itch.sink' capsule"
            )
        cdef tickwire_itch_sink* s = <tickwire_itch_sink*>PyCapsule_GetPointer(
            cap, "tickwire.itch.sink"
        )
        if s.abi != TICKWIRE_ITCH_SINK_ABI or s.message == NULL:
            raise ValueError(
                f"{type(sink).__name__}: sink ABI {s.abi}, expected {TICKWIRE_ITCH_SINK_ABI}"
            )
        if self._nsinks == MAX_SINKS:
            raise ValueError(f"at most {MAX_SINKS} sinks")
        self._sinks[self._nsinks] = s
        self._nsinks += 1
        self._sink_refs.append((sink, cap))  # keeps the struct and its ctx alive

    cdef int _message(self, const uint8_t* m, int t) except -1:
        return 0

    cdef inline int _emit(self, const uint8_t* m, int t) except -1:
        cdef int i
        self._message(m, t)
        self._by_type[t] += 1
        self.messages += 1
        for i in range(self._nsinks):
            self._sinks[i].message(self._sinks[i].ctx, m, _specs[t].length)
        return 0

    cdef tuple _frame(self, buf, Py_ssize_t start, Py_ssize_t limit):
        """Frame the BinaryFILE frames of ``buf`` starting in [start, limit) (limit -1:
        no bound); ``(stop_offset, blocked)``."""
        cdef Py_buffer view
        cdef const uint8_t* p
        cdef Py_ssize_t n, pos, plen, length
        cdef int t
        cdef bint blocked = False
        PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
        try:
            p = <const uint8_t*>view.buf
            n = view.len
            pos = start
            if limit < 0 or limit > n:
                limit = n
            while pos < limit and pos + 3 <= n:
                plen = (p[pos] << 8) | p[pos + 1]
                t = p[pos + 2]
                if _known[t]:
                    length = _specs[t].length
                    if pos + 2 + length > n:
                        break
                    if plen != length:
                        self.length_fixups += 1
                    self._emit(p + pos + 2, t)
                    pos += 2 + length
                else:
                    if plen == 0:
                        blocked = True
                        break
                    if pos + 2 + plen > n:
                        break
                    self.skipped += 1
                    pos += 2 + plen
        finally:
            PyBuffer_Release(&view)
        return pos, blocked


cdef class FrameDecoder(_Framer):
    """Decodes BinaryFILE frames (2-byte big-endian length, then the message) in bulk,
    with :class:`_Framer`'s rules and counters. ``feed`` decodes every complete frame of
    ``buf`` from ``start`` and returns ``(messages, stop_offset, blocked)``."""

    cdef list _out

    cdef int _message(self, const uint8_t* m, int t) except -1:
        self._out.append(_build(m, &_specs[t]))
        return 0

    def feed(self, buf, Py_ssize_t start=0, Py_ssize_t limit=-1):
        """Decode the frames of ``buf`` that start in [start, limit) (limit -1: no bound)."""
        cdef list out = []
        self._out = out
        try:
            pos, blocked = self._frame(buf, start, limit)
        finally:
            self._out = None
        return out, pos, blocked


# --------------------------------------------------------------------------------------
# Columns: messages straight into Arrow buffers (tickwire.itch.columnar)
# --------------------------------------------------------------------------------------

cdef struct Col:
    uint8_t* buf
    Py_ssize_t len
    Py_ssize_t cap

cdef struct TypeCols:
    Py_ssize_t rows
    Col data[MAX_FIELDS]   # integers: host-order values; strings: UTF-8 bytes
    Col offs[MAX_FIELDS]   # strings only: int32 offsets into data, rows + 1 of them


cdef int _reserve(Col* c, Py_ssize_t extra) except -1:
    cdef Py_ssize_t want = c.len + extra
    cdef Py_ssize_t cap
    cdef uint8_t* nb
    if want <= c.cap:
        return 0
    cap = c.cap * 2 if c.cap else 4096
    while cap < want:
        cap *= 2
    nb = <uint8_t*>realloc(c.buf, cap)
    if nb == NULL:
        raise MemoryError()
    c.buf = nb
    c.cap = cap
    return 0


cdef class ColumnBuilder(_Framer):
    """Decodes ITCH messages into per-type, per-field Arrow buffers, no object per message.

    For every message type the builder keeps one growing C buffer per field, laid out as
    Arrow wants it: ``U16``/``U32`` as host-order ``uint16``/``uint32``, ``U64`` and
    the 6-byte timestamp as ``uint64``; ``CODE`` and ``ALPHA`` as an Arrow ``string``
    column (``int32`` offsets plus UTF-8 data; Alpha right padding stripped, latin-1
    bytes of 0x80 and above written as their two-byte UTF-8 form, so the text is the
    one :func:`tickwire.itch.messages.decode` returns). The field list and widths come
    from the specs :func:`configure` installed, i.e. from the wire table.

    :meth:`feed` frames a BinaryFILE buffer with exactly :class:`FrameDecoder`'s rules
    (and its counters); :meth:`add` takes messages already framed (a MoldUDP64
    payload's, type byte first). :meth:`take` hands over what was built as
    ``{type byte: (rows, [buffers per field])}`` (each buffer ``bytes``: an integer
    column's values, or a string column's ``(offsets, data)``) and starts afresh, so a
    caller bounds memory by taking after every chunk.
    """

    cdef TypeCols* _cols[256]

    def __cinit__(self):
        memset(self._cols, 0, sizeof(self._cols))

    def __dealloc__(self):
        cdef int t
        for t in range(256):
            self._free(t)

    cdef void _free(self, int t):
        cdef TypeCols* tc = self._cols[t]
        cdef int i
        if tc == NULL:
            return
        for i in range(MAX_FIELDS):
            free(tc.data[i].buf)
            free(tc.offs[i].buf)
        free(tc)
        self._cols[t] = NULL

    cdef TypeCols* _open(self, int t) except NULL:
        cdef TypeCols* tc = <TypeCols*>malloc(sizeof(TypeCols))
        cdef Spec* s = &_specs[t]
        cdef int i
        if tc == NULL:
            raise MemoryError()
        memset(tc, 0, sizeof(TypeCols))
        self._cols[t] = tc
        for i in range(s.nfields):
            if s.fields[i].kind == K_CODE or s.fields[i].kind == K_ALPHA:
                _reserve(&tc.offs[i], 4)
                (<int32_t*>tc.offs[i].buf)[0] = 0
                tc.offs[i].len = 4
        return tc

    cdef int _message(self, const uint8_t* p, int t) except -1:
        cdef Spec* s = &_specs[t]
        cdef TypeCols* tc = self._cols[t]
        cdef int i, n, j
        cdef Field* f
        cdef const uint8_t* q
        cdef Col* c
        cdef uint8_t* w
        cdef uint8_t b
        cdef uint16_t v16
        cdef uint32_t v32
        cdef uint64_t v64
        if tc == NULL:
            tc = self._open(t)
        for i in range(s.nfields):
            f = &s.fields[i]
            q = p + f.pos
            c = &tc.data[i]
            if f.kind == K_CODE or f.kind == K_ALPHA:
                n = f.width
                if f.kind == K_ALPHA:
                    while n > 0 and q[n - 1] == 32:
                        n -= 1
                _reserve(c, 2 * n)
                w = c.buf + c.len
                for j in range(n):
                    b = q[j]
                    if b < 0x80:
                        w[0] = b
                        w += 1
                    else:
                        w[0] = 0xC0 | (b >> 6)
                        w[1] = 0x80 | (b & 0x3F)
                        w += 2
                c.len = w - c.buf
                if c.len > 0x7FFFFFFF:
                    raise OverflowError("a string column passed 2 GiB: take() more often")
                _reserve(&tc.offs[i], 4)
                (<int32_t*>(tc.offs[i].buf + tc.offs[i].len))[0] = <int32_t>c.len
                tc.offs[i].len += 4
            elif f.kind == K_U16:
                _reserve(c, 2)
                v16 = <uint16_t>((q[0] << 8) | q[1])
                memcpy(c.buf + c.len, &v16, 2)
                c.len += 2
            elif f.kind == K_U32:
                _reserve(c, 4)
                v32 = ((<uint32_t>q[0] << 24) | (<uint32_t>q[1] << 16)
                       | (<uint32_t>q[2] << 8) | <uint32_t>q[3])
                memcpy(c.buf + c.len, &v32, 4)
                c.len += 4
            else:  # K_U64, K_TS48
                _reserve(c, 8)
                v64 = _be(q, f.width)
                memcpy(c.buf + c.len, &v64, 8)
                c.len += 8
        tc.rows += 1
        return 0

    def feed(self, buf, Py_ssize_t start=0, Py_ssize_t limit=-1):
        """Add the BinaryFILE frames of ``buf`` that start in [start, limit) (limit -1: no
        bound), framed by :class:`_Framer`'s loop (the one :meth:`FrameDecoder.feed`
        uses); returns ``(stop_offset, blocked)``."""
        return self._frame(buf, start, limit)

    def add(self, messages):
        """Add already framed messages (each bytes-like, type byte first; bytes past the
        type's length ignored). An unknown type is skipped and counted in ``skipped``; a
        message shorter than its type's length raises the pure decoder's DecodeError."""
        cdef Py_buffer view
        cdef const uint8_t* p
        cdef int t
        for m in messages:
            PyObject_GetBuffer(m, &view, PyBUF_SIMPLE)
            try:
                p = <const uint8_t*>view.buf
                if view.len == 0:
                    t = -1
                else:
                    t = p[0]
                if t >= 0 and _known[t] and view.len >= _specs[t].length:
                    self._emit(p, t)
                    continue
            finally:
                PyBuffer_Release(&view)
            if t >= 0 and not _known[t]:
                self.skipped += 1
                continue
            _pure_decode(m)  # raises the DecodeError (empty or truncated)

    def take(self):
        """``{type byte: (rows, columns)}`` of what was built since the last take, in
        type byte order; ``columns`` holds per field (wire order, type byte left out)
        the values ``bytes`` of an integer column or ``(offsets, data)`` of a string
        column. The builder is empty afterwards (its counters go on)."""
        cdef dict out = {}
        cdef TypeCols* tc
        cdef Spec* s
        cdef int t, i
        cdef list cols
        for t in range(256):
            tc = self._cols[t]
            if tc == NULL or tc.rows == 0:
                continue
            s = &_specs[t]
            cols = []
            for i in range(s.nfields):
                values = PyBytes_FromStringAndSize(<char*>tc.data[i].buf, tc.data[i].len)
                if s.fields[i].kind == K_CODE or s.fields[i].kind == K_ALPHA:
                    offsets = PyBytes_FromStringAndSize(<char*>tc.offs[i].buf, tc.offs[i].len)
                    cols.append((offsets, values))
                else:
                    cols.append(values)
            out[t] = (tc.rows, cols)
            # Empty again, keeping the capacity for the next chunk.
            tc.rows = 0
            for i in range(s.nfields):
                tc.data[i].len = 0
                if s.fields[i].kind == K_CODE or s.fields[i].kind == K_ALPHA:
                    tc.offs[i].len = 4
        return out
