# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled full-depth (L3) ITCH 5.0 books: the ``cython`` backend's book.

The same books, fault rules and statistics as :class:`tickwire.engine.book.BookManager`
(the oracle; see its docstring for the rules: reorder window, duplicate references,
clamping, rejection), kept in C structures:

* orders in one pool of C structs, found by reference through an open-addressing hash
  table (linear probing, backward-shift deletion, so no tombstones slow later probes);
* per book and side, the price levels in a sorted array of (key, level) pairs whose
  *last* element is the best price (bids by price, asks by the complemented price), so
  the busy top of the book is at the cheap end for inserts and removals;
* each level a FIFO doubly linked list of its orders (O(1) removal from the middle,
  time priority and queue-ahead from one structure).

:meth:`CBookManager.feed_binaryfile` decodes ITCH straight from the BinaryFILE bytes into
these structures: no Python object per book message. Administrative messages (rare) are
decoded with tickwire.itch's compiled decoder and handled as the reference does; tape
messages (P, Q, B) are read in C. :meth:`CBookManager.itch_sink` hands tickwire.itch's
framer a C entry point to the same per-message code, so a conversion's one framing
feeds the book. The BBO and trades recorders (``record_bbo``, ``record_trades``) write
their rows into C buffers laid out as Arrow columns.

No wire offset is written here: :mod:`tickwire.engine.cbook` reads them from the ITCH
construct table and passes them to :func:`configure`.

Beside the books: :class:`ReplayCore`, the compiled backtest's loop
(:mod:`tickwire.engine.backtest.core`), :class:`CVenue`, its simulated venue, and :class:`SlotsConstructor`, which builds the
engine's frozen dataclasses (:func:`tickwire.engine.cbook.positional_constructor`).
"""

from collections import deque
from itertools import islice

from tickwire.engine.book import book_locate, name_locate
from tickwire.ouch.deadlines import Deadlines

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItemWithError
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.object cimport Py_NE, PyObject, PyObject_RichCompareBool
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memmove, memset

cdef extern from *:
    """
    #define TW_INT64_MAX 0x7FFFFFFFFFFFFFFFLL
    """
    int64_t TW_INT64_MAX

# The message sink of tickwire.itch's framers (its ABI version 1, restated here because
# this module must build without tickwire-itch's sources; the capsule name carries the
# contract and the framer checks ``abi``): ``python -m tickwire.itch convert`` frames the
# input once and hands every message to this book through ``message`` (see itch_sink()).
cdef extern from *:
    """
    typedef int (*tickwire_itch_sink_fn)(void *ctx, const unsigned char *msg, size_t len);
    typedef struct tickwire_itch_sink {
        unsigned int abi;
        tickwire_itch_sink_fn message;
        void *ctx;
    } tickwire_itch_sink;
    """
    ctypedef int (*tickwire_itch_sink_fn)(
        void* ctx, const unsigned char* msg, size_t length
    ) except -1
    ctypedef struct tickwire_itch_sink:
        unsigned int abi
        tickwire_itch_sink_fn message
        void* ctx

cdef extern from "Python.h":
    object PyCapsule_New(void* pointer, const char* name, void (*destructor)(object))
    void* PyCapsule_GetContext(object capsule)
    int PyCapsule_SetContext(object capsule, void* context) except -1
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT
    PySendResult PyIter_Send(PyObject* iter, PyObject* arg, PyObject** presult)
    void Py_XDECREF(PyObject* o)
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    ctypedef struct PyTypeObject:
        unsigned long tp_flags
        Py_ssize_t tp_basicsize
    PyObject* PyType_GenericAlloc(PyTypeObject* t, Py_ssize_t nitems)
    int T_OBJECT_EX
    unsigned long Py_TPFLAGS_HAVE_GC

# -- frozen dataclasses built slot by slot ------------------------------------------------
cdef enum:
    MAX_SLOTS = 64  # the most fields a SlotsConstructor class may have
cdef object _NO_DEFAULT = object()


cdef class SlotsConstructor:
    """``tickwire.net.frames.positional_constructor(cls)`` in C: a constructor of the
    frozen, slotted dataclass ``cls`` taking every field in order, by position or by name
    (a field with a plain default may be left out), that runs no ``__post_init__`` and no
    default factory. It allocates the instance and stores each value straight into its
    slot (the offsets of the class's member descriptors), where the Python one calls each
    descriptor's ``__set__``: a six-field event 0.8 -> 0.25 us (``timeit``). The instance is the same
    (frozen, equal, hashable, tracked by the cycle collector); held to the Python one by
    ``test_engine_cbook_constructor.py``."""

    cdef object cls
    cdef Py_ssize_t n
    cdef Py_ssize_t slot[MAX_SLOTS]
    cdef tuple names
    cdef dict index
    cdef tuple defaults

    def __init__(self, cls):
        import dataclasses

        cdef PyMemberDef* member
        cdef Py_ssize_t i
        fields = dataclasses.fields(cls)
        if len(fields) > MAX_SLOTS:
            raise ValueError(f"{cls!r}: more than {MAX_SLOTS} fields")
        if not ((<PyTypeObject*><PyObject*>cls).tp_flags & Py_TPFLAGS_HAVE_GC):
            raise TypeError(f"{cls!r}: expected a GC-tracked class")  # dataclasses are
        self.cls = cls
        self.n = len(fields)
        self.names = tuple(f.name for f in fields)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.defaults = tuple(
            _NO_DEFAULT if f.default is dataclasses.MISSING else f.default for f in fields
        )
        for i, name in enumerate(self.names):
            descr = getattr(cls, name, None)
            if type(descr).__name__ != "member_descriptor":
                raise TypeError(f"{cls!r}: field {name!r} is not a __slots__ member")
            member = (<PyMemberDescrObject*><PyObject*>descr).d_member
            if member.type != T_OBJECT_EX:
                raise TypeError(f"{cls!r}: slot {name!r} is not an object slot")
            self.slot[i] = member.offset

    def __call__(self, *args, **kwargs):
        cdef PyObject* vals[MAX_SLOTS]
        cdef Py_ssize_t i, na = len(args)
        if na > self.n:
            raise TypeError(
                f"{self.cls.__name__}() takes {self.n} arguments but {na} were given"
            )
        for i in range(na):
            vals[i] = <PyObject*>args[i]
        for i in range(na, self.n):
            vals[i] = NULL
        if kwargs:
            for name, value in kwargs.items():  # the dict keeps each value alive
                j = self.index.get(name)
                if j is None:
                    raise TypeError(
                        f"{self.cls.__name__}() got an unexpected keyword argument {name!r}"
                    )
                i = j
                if vals[i] != NULL:
                    raise TypeError(
                        f"{self.cls.__name__}() got multiple values for argument {name!r}"
                    )
                vals[i] = <PyObject*>value
        for i in range(self.n):
            if vals[i] == NULL:
                default = self.defaults[i]
                if default is _NO_DEFAULT:
                    raise TypeError(
                        f"{self.cls.__name__}() missing required argument {self.names[i]!r}"
                    )
                vals[i] = <PyObject*>default  # the tuple keeps it alive
        return self._new(vals)

    cdef object _new(self, PyObject** vals):
        """The instance holding ``vals[0]`` .. ``vals[n - 1]`` (each field's value, in
        order; borrowed, a new reference is stored): ``__call__`` once it has every
        value, and :class:`ReplayCore`, which has its BookUpdate's six in C (no argument
        tuple to pack and unpack)."""
        cdef Py_ssize_t i
        cdef PyObject* raw = PyType_GenericAlloc(<PyTypeObject*><PyObject*>self.cls, 0)
        if raw == NULL:
            raise MemoryError()
        obj = <object>raw
        Py_DECREF(obj)  # the cast took a second reference; ``obj`` now owns the only one
        for i in range(self.n):
            Py_INCREF(<object>vals[i])
            (<PyObject**>(<char*>raw + self.slot[i]))[0] = vals[i]
        return obj


# -- layout, configured once from the ITCH construct table (cbook.py) -------------------
cdef int L_TS, L_LOCATE
cdef int A_REF, A_SIDE, A_SHARES, A_STOCK, A_PRICE, R_STOCK
cdef int E_REF, E_SHARES, E_MATCH
cdef int C_REF, C_SHARES, C_MATCH, C_PRINTABLE, C_PRICE
cdef int X_REF, X_SHARES
cdef int D_REF
cdef int U_OLD, U_NEW, U_SHARES, U_PRICE
cdef int P_REF, P_SIDE, P_SHARES, P_PRICE, P_MATCH
cdef int Q_SHARES, Q_PRICE, Q_MATCH
cdef int B_MATCH
cdef int S_CODE
cdef int LENGTHS[256]
cdef bint CONFIGURED = False
cdef object OrderInfo = None
cdef object LevelView = None
cdef object BBO = None
cdef object TapePrint = None
cdef object BookStats = None
cdef object itch_decode = None
cdef object DecodeError = None


cdef object _bbo_new(object bid, object bid_size, object ask, object ask_size):
    """``BBO(bid, bid_size, ask, ask_size)``, allocated and filled in C as ``tuple.__new__``
    builds a tuple subclass (``tp_alloc``, then each item): BBO is a NamedTuple, whose
    ``__new__`` is a Python function, and ``tuple.__new__(BBO, (...))`` packs and copies
    a second tuple; this is ~50 ns less per BBO, one per ``on_book`` call of the compiled
    core (issue #16). The same object (type, equality, hash, repr); :func:`configure`
    checks BBO adds no field to tuple's layout. Held by
    ``test_bbo_is_the_reference_books_named_tuple`` (test_engine_cython_book.py)."""
    cdef PyObject* raw = PyType_GenericAlloc(<PyTypeObject*><PyObject*>BBO, 4)
    if raw == NULL:
        raise MemoryError()
    t = <object>raw
    Py_DECREF(t)  # the cast took a second reference; ``t`` now owns the only one
    Py_INCREF(bid)
    PyTuple_SET_ITEM(t, 0, bid)
    Py_INCREF(bid_size)
    PyTuple_SET_ITEM(t, 1, bid_size)
    Py_INCREF(ask)
    PyTuple_SET_ITEM(t, 2, ask)
    Py_INCREF(ask_size)
    PyTuple_SET_ITEM(t, 3, ask_size)
    return t


def configure(dict layout, list lengths, order_info, level_view, bbo, tape_print, book_stats,
              decode, decode_error):
    """Set the wire layout (field offsets by ``"TYPE.field"``) and the Python types used."""
    global L_TS, L_LOCATE, A_REF, A_SIDE, A_SHARES, A_STOCK, A_PRICE, R_STOCK, E_REF, E_SHARES
    global E_MATCH, C_REF, C_SHARES, C_MATCH, C_PRINTABLE, C_PRICE, X_REF, X_SHARES, D_REF
    global U_OLD, U_NEW, U_SHARES, U_PRICE, CONFIGURED
    global P_REF, P_SIDE, P_SHARES, P_PRICE, P_MATCH, Q_SHARES, Q_PRICE, Q_MATCH, B_MATCH
    global S_CODE
    global OrderInfo, LevelView, BBO, TapePrint, BookStats, itch_decode, DecodeError
    cdef int i
    if len(lengths) != 256:
        raise ValueError("lengths must have 256 entries")
    L_TS = layout["A.timestamp"]
    L_LOCATE = layout["A.stock_locate"]
    A_REF = layout["A.order_reference_number"]
    A_SIDE = layout["A.buy_sell_indicator"]
    A_SHARES = layout["A.shares"]
    A_STOCK = layout["A.stock"]
    R_STOCK = layout["R.stock"]
    A_PRICE = layout["A.price"]
    E_REF = layout["E.order_reference_number"]
    E_SHARES = layout["E.executed_shares"]
    E_MATCH = layout["E.match_number"]
    C_REF = layout["C.order_reference_number"]
    C_SHARES = layout["C.executed_shares"]
    C_MATCH = layout["C.match_number"]
    C_PRINTABLE = layout["C.printable"]
    C_PRICE = layout["C.execution_price"]
    X_REF = layout["X.order_reference_number"]
    X_SHARES = layout["X.cancelled_shares"]
    D_REF = layout["D.order_reference_number"]
    U_OLD = layout["U.original_order_reference_number"]
    U_NEW = layout["U.new_order_reference_number"]
    U_SHARES = layout["U.shares"]
    U_PRICE = layout["U.price"]
    P_REF = layout["P.order_reference_number"]
    P_SIDE = layout["P.buy_sell_indicator"]
    P_SHARES = layout["P.shares"]
    P_PRICE = layout["P.price"]
    P_MATCH = layout["P.match_number"]
    Q_SHARES = layout["Q.shares"]
    Q_PRICE = layout["Q.cross_price"]
    Q_MATCH = layout["Q.match_number"]
    B_MATCH = layout["B.match_number"]
    S_CODE = layout["S.event_code"]
    for i in range(256):
        LENGTHS[i] = lengths[i]
    if not (isinstance(bbo, type) and issubclass(bbo, tuple)
            and (<PyTypeObject*><PyObject*>bbo).tp_basicsize
            == (<PyTypeObject*><PyObject*>tuple).tp_basicsize):
        raise TypeError(f"{bbo!r}: expected a NamedTuple (_bbo_new fills its items)")
    OrderInfo = order_info
    LevelView = level_view
    BBO = bbo
    TapePrint = tape_print
    BookStats = book_stats
    itch_decode = decode
    DecodeError = decode_error
    CONFIGURED = True


cdef inline uint32_t rd16(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 8) | p[1]


cdef inline uint32_t rd32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef inline uint64_t rd64(const uint8_t* p) noexcept nogil:
    return (<uint64_t>rd32(p) << 32) | rd32(p + 4)


cdef inline uint64_t rd48(const uint8_t* p) noexcept nogil:
    return (<uint64_t>rd16(p) << 32) | rd32(p + 2)


cdef inline bint named_ref(const uint8_t* m, uint8_t t, uint64_t* ref) noexcept nogil:
    """Whether message ``m`` of type ``t`` names a resting order (E, C, X, D, or U by its
    original reference), with that reference put in ``ref``. The one place the named
    order's field is read for routing: the strategy's events go to the named order's stock
    (``ReplayCore._filed_loc``) and the venue filter looks where it rests
    (``ReplayCore._venue_needs_python``); applying the message reads its own fields."""
    if t == 0x45:
        ref[0] = rd64(m + E_REF)
    elif t == 0x43:
        ref[0] = rd64(m + C_REF)
    elif t == 0x58:
        ref[0] = rd64(m + X_REF)
    elif t == 0x44:
        ref[0] = rd64(m + D_REF)
    elif t == 0x55:
        ref[0] = rd64(m + U_OLD)
    else:
        return False
    return True


# -- framing (the one BinaryFILE loop: feed_binaryfile and the replay core) ----------
# Why not tickwire.itch's framing loop (``_Framer._frame`` in ``tickwire/itch/_fast.pyx``,
# which frames by the same rules): a cimport of it would make this package need
# tickwire-itch's sources at build time and tie the two compiled modules' layouts together
# (the reason the itch sink ABI is a capsule, see there), and the capsule way, this book
# attached as a sink of itch's framer (as ``python -m tickwire.itch convert`` does, where
# the framing is paid for the columns anyway), costs more per message than this whole
# loop: the book as a sink added 36 to 43 ns a message to itch's framer (its dispatch and
# the book, with no framing), where this loop takes 34 to 35 ns for framing and book
# together (1M generated messages, bench/bench_cbook_feed.py, CPU time,
# bench/RESULTS.md "Backtest: compiled replay core"), and it would need tickwire-itch's
# extension built for this one to frame at all. So the step is written twice, once per
# compiled module, and held to the same rules by tests (test_engine_cython_book's garbage
# bytes against the reference reader, test_engine_cbook_framing).
cdef struct Frames:
    # The one BinaryFILE loop over a bytes buffer, shared by CBookManager.feed_binaryfile
    # and ReplayCore.feed: frames_of, then frames_next until it gives 0, then
    # frames_close. The step is pure C with no Python error path (an unframeable frame
    # sets ``blocked``, frames_close raises it), so the C compiler inlines it into both
    # loops, and the struct is a local of its loop (frames_close takes it by value), kept
    # in registers across the per-message calls: the shared loop runs as fast as the two
    # hand-written ones did (bench/RESULTS.md, "Backtest: compiled replay core").
    const uint8_t* b
    Py_ssize_t pos          # the first byte not yet framed
    Py_ssize_t end
    const uint8_t* msg      # the message frames_next gave (its type byte)
    int64_t* skipped        # the owner's counters (CBookManager.skipped, .length_fixups)
    int64_t* length_fixups
    bint blocked            # stopped at an unknown type with a zero prefix


cdef inline bytes as_bytes(object data):
    return data if type(data) is bytes else bytes(data)


cdef class CBookManager  # defined below; stream_start takes one


cdef int stream_start(CBookManager counts, bytes buf) except -1:
    """At the first bytes ``counts`` frames (the start of its stream), refuse what is not
    a BinaryFILE as :func:`tickwire.itch.read` does (``refuse_capture``: a pcap or
    pcapng capture, an xz, bzip2, zstd, zip or lz4 file, a gzip inside gzip), one
    ``DecodeError`` at offset 0, before a byte of it is framed as ITCH. Why: the compiled
    book and core framed a bzip2 day as messages, applied what they found and said
    ``truncated frame at end of stream ...`` (or nothing, had it ended on a frame), where
    the reference named the format. Test: ``test_engine_cython_book.py``,
    ``test_a_file_that_is_not_a_binaryfile_is_refused_before_a_frame``."""
    if counts.stream_started:
        return 0
    from tickwire.itch.reader import refuse_capture  # once per stream

    try:
        refuse_capture(buf)
    except DecodeError as exc:
        setattr(exc, FRAMING, True)
        raise
    counts.stream_started = True
    return 0


cdef inline Frames frames_of(bytes buf, int64_t* skipped, int64_t* length_fixups) noexcept:
    """The frames of ``buf`` (kept alive by the caller while they are used), counting
    into ``skipped`` and ``length_fixups``."""
    cdef Frames f
    f.b = <const uint8_t*>PyBytes_AS_STRING(buf)
    f.pos = 0
    f.end = PyBytes_GET_SIZE(buf)
    f.msg = NULL
    f.skipped = skipped
    f.length_fixups = length_fixups
    f.blocked = False
    return f


cdef inline Py_ssize_t frames_next(Frames* f) noexcept nogil:
    """The length of the next complete message of a known type (the message, type byte
    first, at ``f.msg``), or 0 when the next frame is not complete in the buffer or
    cannot be framed (``f.blocked``). :func:`tickwire.itch.read`'s framing rules: a known
    type's frame is its type's length whatever the prefix says (a disagreeing prefix is
    counted in ``length_fixups``); an unknown type is skipped by its prefix (counted in
    ``skipped``); an unknown type with a zero prefix cannot be framed."""
    cdef uint8_t t
    cdef Py_ssize_t pos, length, nxt
    cdef uint32_t prefix
    while True:
        pos = f.pos
        if pos + 3 > f.end:
            return 0
        t = f.b[pos + 2]
        length = LENGTHS[t]
        prefix = rd16(f.b + pos)
        if length == 0:
            if prefix == 0:
                f.blocked = True
                return 0
            nxt = pos + 2 + prefix
            if nxt > f.end:
                return 0
            f.pos = nxt
            f.skipped[0] += 1
            continue
        nxt = pos + 2 + length
        if nxt > f.end:
            return 0
        if prefix != <uint32_t>length:
            f.length_fixups[0] += 1
        f.pos = nxt
        f.msg = f.b + pos + 2
        return length


#: The attribute set (True) on a ``DecodeError`` of the framing of a stream
#: (:func:`stream_start`, :func:`frames_close`): only those are the stream's errors, which
#: :func:`tickwire.engine.cbook.feed_chunks` puts at their stream offset and names the file
#: in. Another ``DecodeError`` out of a ``feed`` was raised by what the feed ran (the
#: compiled core runs the strategy's callbacks there): a strategy's own ``DecodeError`` is
#: not the file's. Test: ``test_engine_cli_bad_input.py::
#: test_a_strategy_error_over_a_file_is_not_said_to_be_the_files``.
FRAMING = "tickwire_framing"


cdef object framing_error(str reason, Py_ssize_t offset, object message_type):
    """A ``DecodeError`` of the framing (marked :data:`FRAMING`)."""
    exc = DecodeError(reason, offset=offset, message_type=message_type)
    setattr(exc, FRAMING, True)
    return exc


cdef Py_ssize_t frames_close(Frames f, bint final) except -1:
    """The bytes consumed (every complete frame). An unframeable frame is a
    :class:`tickwire.itch.DecodeError`, and so, with ``final``, is an incomplete last
    frame (without ``final`` it is left for the next chunk); both marked :data:`FRAMING`."""
    if f.blocked:
        raise framing_error(
            "unknown message type with a zero length prefix: cannot frame",
            f.pos,
            chr(f.b[f.pos + 2]),
        )
    if final and f.pos < f.end:
        raise framing_error(
            f"truncated frame at end of stream: only {f.end - f.pos} bytes left",
            f.pos,
            chr(f.b[f.pos + 2]) if f.end - f.pos > 2 else None,
        )
    return f.pos


# -- C structures --------------------------------------------------------------------
cdef struct COrder:
    uint64_t ref
    int64_t shares
    uint32_t price
    int32_t level
    int32_t prev
    int32_t next      # also the free-list link
    int32_t book
    uint8_t side      # 0 buy, 1 sell


cdef struct CLevel:
    uint32_t price
    int32_t count
    int64_t shares
    int32_t head
    int32_t tail      # head doubles as the free-list link


cdef struct CSide:
    uint32_t* keys    # ascending; the best price is the last entry
    int32_t* lv       # the level of each key
    Py_ssize_t n
    Py_ssize_t cap


cdef struct CBookS:
    CSide side[2]
    int64_t order_count
    uint32_t locate


# The BBO recorder's columns, each a growing buffer laid out as an Arrow column wants it:
# timestamp u64, locate u16, bid price u32 (+ validity bitmap), bid size u64, ask price u32
# (+ validity bitmap), ask size u64.
cdef enum:
    REC_TS = 0
    REC_LOCATE = 1
    REC_BID_PX = 2
    REC_BID_OK = 3
    REC_BID_SZ = 4
    REC_ASK_PX = 5
    REC_ASK_OK = 6
    REC_ASK_SZ = 7
    REC_COLS = 8

# The trades recorder's columns (record_trades): timestamp u64, locate u16, kind u8 (the
# ITCH letter), match number u64, price u32, shares u64, side u8 (0: none), reference u64.
cdef enum:
    TR_TS = 0
    TR_LOCATE = 1
    TR_KIND = 2
    TR_MATCH = 3
    TR_PRICE = 4
    TR_SHARES = 5
    TR_SIDE = 6
    TR_REF = 7
    TR_COLS = 8

cdef struct RecCol:
    uint8_t* buf
    Py_ssize_t len
    Py_ssize_t cap


cdef struct RecLast:
    bint seen
    bint bid_ok, ask_ok
    uint32_t bid_px, ask_px
    int64_t bid_sz, ask_sz


cdef int rec_reserve(RecCol* cols, const int* widths, int ncols, Py_ssize_t rows,
                     Py_ssize_t* cap_rows) except -1:
    """Room for ``rows + 1`` rows in every column (``widths`` bytes a row; 0 for a
    validity bitmap), grown by doubling: one check per row, not one per column."""
    cdef Py_ssize_t cap
    cdef int c
    if rows < cap_rows[0]:
        return 0
    cap = cap_rows[0] * 2 if cap_rows[0] else 1 << 14
    for c in range(ncols):
        rec_grow(&cols[c], (cap * widths[c] if widths[c] else (cap >> 3) + 1) - cols[c].len)
    cap_rows[0] = cap
    return 0


cdef int BBO_WIDTHS[8]
BBO_WIDTHS[:] = [8, 2, 4, 0, 8, 4, 0, 8]
cdef int TRADE_WIDTHS[8]
TRADE_WIDTHS[:] = [8, 2, 1, 8, 4, 8, 1, 8]


cdef int rec_grow(RecCol* c, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef uint8_t* nb
    if c.len + extra <= c.cap:
        return 0
    cap = c.cap * 2 if c.cap else 1 << 16
    while cap < c.len + extra:
        cap *= 2
    nb = <uint8_t*>realloc(c.buf, cap)
    if nb == NULL:
        raise MemoryError()
    c.buf = nb
    c.cap = cap
    return 0


cdef inline uint32_t side_key(uint8_t side, uint32_t price) noexcept nogil:
    # Bids ascend by price (best = highest = last); asks by the complement (best = lowest).
    return price if side == 0 else <uint32_t>(~price)


cdef inline Py_ssize_t lower_bound(CSide* s, uint32_t key) noexcept nogil:
    """First index whose key is >= key (n when none)."""
    cdef Py_ssize_t lo = 0, hi = s.n, mid
    # Most activity is at or near the best price, the end of the array.
    if hi == 0 or s.keys[hi - 1] < key:
        return hi
    if hi >= 2 and s.keys[hi - 2] < key:
        return hi - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if s.keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef class CBook:
    """The full-depth book of one instrument (a view into :class:`CBookManager`), with the
    instrument state the administrative messages carry, as on
    :class:`tickwire.engine.book.OrderBook`."""

    cdef CBookManager mgr
    cdef int32_t idx
    cdef public int locate
    cdef public str symbol
    cdef public object directory, trading_action, reg_sho, ipo_quoting, luld_collar
    cdef public object noii, rpii, dlcr
    cdef public str trading_state
    cdef public dict participants, operational_halts

    def __init__(self, CBookManager mgr, int32_t idx, int locate, str symbol):
        self.mgr = mgr
        self.idx = idx
        self.locate = locate
        self.symbol = symbol
        self.directory = self.trading_action = self.reg_sho = self.ipo_quoting = None
        self.luld_collar = self.noii = self.rpii = self.dlcr = None
        self.trading_state = ""
        self.participants = {}
        self.operational_halts = {}

    @property
    def order_count(self):
        return self.mgr.cbooks[self.idx].order_count

    @property
    def level_count(self):
        cdef CBookS* b = &self.mgr.cbooks[self.idx]
        return b.side[0].n + b.side[1].n

    def bbo(self):
        """Best bid and offer (:class:`tickwire.engine.book.BBO`)."""
        return self.mgr._bbo(self.idx)

    def depth(self, Py_ssize_t n):
        """The top ``n`` levels of each side, best first: (bids, asks)."""
        if n <= 0:
            return [], []
        return self.mgr._levels(self.idx, 0, n), self.mgr._levels(self.idx, 1, n)

    def l2(self):
        """Every level of each side, best first: (bids, asks)."""
        return self.mgr._levels(self.idx, 0, -1), self.mgr._levels(self.idx, 1, -1)

    def top_levels(self, Py_ssize_t n):
        """The top ``n`` levels of each side, best first, as (price, total shares) pairs:
        ((bids), (asks)) (:meth:`tickwire.engine.book.OrderBook.top_levels`)."""
        return self.mgr._top(self.idx, 0, n), self.mgr._top(self.idx, 1, n)

    def orders_at(self, side, uint32_t price):
        """The FIFO queue at one price, first in line first (:class:`OrderInfo` items)."""
        return self.mgr._orders_at(self.idx, 0 if side == "B" else 1, price)

    def prices_through(self, side, uint32_t limit):
        """The prices of ``side``'s levels an order of the other side limited at ``limit``
        reaches, best first (see :meth:`tickwire.engine.book.OrderBook.prices_through`)."""
        cdef int sd = 0 if side == "B" else 1
        cdef CSide* s = &self.mgr.cbooks[self.idx].side[sd]
        cdef Py_ssize_t i = s.n - 1
        cdef uint32_t price
        cdef list out = []
        while i >= 0:
            price = self.mgr.levels_[s.lv[i]].price
            if (sd == 0 and price < limit) or (sd == 1 and price > limit):
                break
            out.append(price)
            i -= 1
        return out

    def crossed(self):
        """True when the best bid is at or above the best ask (locked or crossed)."""
        cdef CBookS* b = &self.mgr.cbooks[self.idx]
        if b.side[0].n == 0 or b.side[1].n == 0:
            return False
        return b.side[0].keys[b.side[0].n - 1] >= <uint32_t>(~b.side[1].keys[b.side[1].n - 1])

    def invariant_violations(self, *, bint allow_crossed=True):
        """Every broken invariant of this book, described; empty when the book is sound."""
        problems = self.mgr._book_violations(self.idx)
        if not allow_crossed and self.crossed():
            q = self.bbo()
            problems.append(f"book crossed: bid {q.bid_price} >= ask {q.ask_price}")
        return problems

    def __repr__(self):
        return f"CBook(locate={self.locate}, symbol={self.symbol!r}, orders={self.order_count})"


cdef class CBookManager:
    """Books for every instrument of a feed, in C; the API of
    :class:`tickwire.engine.book.BookManager` (see :mod:`tickwire.engine.cbook`)."""

    # order pool + free list
    cdef COrder* orders_
    cdef int32_t o_cap, o_free
    # level pool + free list
    cdef CLevel* levels_
    cdef int32_t l_cap, l_free
    # books
    cdef CBookS* cbooks
    cdef int32_t nb, b_cap
    cdef int32_t* book_of
    cdef list book_objs
    # hash: order reference -> order index
    cdef uint64_t* hkeys
    cdef int32_t* hvals
    cdef uint64_t hmask
    cdef int hshift
    cdef int64_t hcount
    # statistics
    cdef int64_t messages_, unknown_, reordered_, dup_, clamped_, rejected_
    cdef int64_t renamed_  # directories that renamed a named book (BookStats.renamed_locates)
    cdef int64_t counts[256]
    cdef public int64_t skipped, length_fixups
    cdef bint stream_started  # stream_start looked at the first bytes fed
    # reorder window (rare: Python objects)
    cdef readonly int reorder_window
    cdef dict pending_
    cdef object expiry_
    cdef int64_t next_expiry
    cdef int64_t n_pending
    # The compiled venue over this book (``CVenue``, which sets it): each held message
    # reaches its ``held`` just before it is applied (:meth:`_resolve`).
    cdef public object held_to
    # Python-level state
    cdef public object on_print
    cdef public dict books
    cdef public dict locates  # symbol -> locate (name_locate): locate_of
    cdef public str system_event
    cdef public object mwcb_levels, mwcb_status
    cdef dict admin
    # BBO recorder (record_bbo): one row per change of a book's best bid or offer
    cdef bint rec_on
    cdef RecCol rec[REC_COLS]
    cdef Py_ssize_t rec_rows, rec_cap
    cdef RecLast* rec_last
    # trades recorder (record_trades): one row per print
    cdef bint tr_on
    cdef RecCol tr[TR_COLS]
    cdef Py_ssize_t tr_rows, tr_cap
    # tickwire.itch sink (itch_sink)
    cdef tickwire_itch_sink sink_

    def __cinit__(self):
        self.rec_on = False
        self.rec_rows = self.rec_cap = 0
        self.rec_last = NULL
        memset(self.rec, 0, sizeof(self.rec))
        self.tr_on = False
        self.tr_rows = self.tr_cap = 0
        memset(self.tr, 0, sizeof(self.tr))
        self.sink_.abi = 1
        self.sink_.message = _sink_message
        self.sink_.ctx = <void*>self
        self.orders_ = NULL
        self.levels_ = NULL
        self.cbooks = NULL
        self.book_of = NULL
        self.hkeys = NULL
        self.hvals = NULL

    def __init__(self, on_print=None, *, int reorder_window=64):
        cdef int i
        if not CONFIGURED:
            raise RuntimeError("tickwire.engine._cbook.configure() was not called")
        if reorder_window < 0:
            raise ValueError(f"reorder_window must be >= 0, got {reorder_window}")
        self.reorder_window = reorder_window
        self.on_print = on_print
        self.o_cap = 1 << 12
        self.orders_ = <COrder*>malloc(self.o_cap * sizeof(COrder))
        self.l_cap = 1 << 10
        self.levels_ = <CLevel*>malloc(self.l_cap * sizeof(CLevel))
        self.b_cap = 64
        self.cbooks = <CBookS*>malloc(self.b_cap * sizeof(CBookS))
        self.book_of = <int32_t*>malloc(65536 * sizeof(int32_t))
        self.hshift = 64 - 13
        self.hmask = (1 << 13) - 1
        self.hkeys = <uint64_t*>malloc((self.hmask + 1) * sizeof(uint64_t))
        self.hvals = <int32_t*>malloc((self.hmask + 1) * sizeof(int32_t))
        if (self.orders_ == NULL or self.levels_ == NULL or self.cbooks == NULL
                or self.book_of == NULL or self.hkeys == NULL or self.hvals == NULL):
            raise MemoryError()
        memset(self.hvals, 0xFF, (self.hmask + 1) * sizeof(int32_t))
        for i in range(65536):
            self.book_of[i] = -1
        for i in range(self.o_cap):
            self.orders_[i].next = i + 1 if i + 1 < self.o_cap else -1
        self.o_free = 0
        for i in range(self.l_cap):
            self.levels_[i].head = i + 1 if i + 1 < self.l_cap else -1
        self.l_free = 0
        self.nb = 0
        self.hcount = 0
        self.book_objs = []
        self.books = {}
        self.locates = {}
        memset(self.counts, 0, sizeof(self.counts))
        self.messages_ = self.unknown_ = self.reordered_ = 0
        self.dup_ = self.clamped_ = self.rejected_ = self.renamed_ = 0
        self.skipped = self.length_fixups = 0
        self.pending_ = {}
        self.expiry_ = deque()
        self.next_expiry = TW_INT64_MAX
        self.n_pending = 0
        self.system_event = ""
        self.mwcb_levels = self.mwcb_status = None
        self.admin = {
            "R": self._directory, "S": self._system, "H": self._trading_action,
            "Y": self._reg_sho, "L": self._participant, "V": self._mwcb_levels,
            "W": self._mwcb_status, "K": self._ipo, "J": self._luld,
            "h": self._operational_halt, "I": self._noii, "N": self._rpii, "O": self._dlcr,
            "P": self._trade, "Q": self._cross, "B": self._broken,
        }

    def __dealloc__(self):
        cdef int32_t i
        cdef int c
        for c in range(REC_COLS):
            free(self.rec[c].buf)
        for c in range(TR_COLS):
            free(self.tr[c].buf)
        free(self.rec_last)
        if self.cbooks != NULL:
            for i in range(self.nb):
                free(self.cbooks[i].side[0].keys)
                free(self.cbooks[i].side[0].lv)
                free(self.cbooks[i].side[1].keys)
                free(self.cbooks[i].side[1].lv)
        free(self.orders_)
        free(self.levels_)
        free(self.cbooks)
        free(self.book_of)
        free(self.hkeys)
        free(self.hvals)

    # -- hash table -------------------------------------------------------------------
    cdef inline uint64_t _slot(self, uint64_t ref) noexcept nogil:
        return (ref * <uint64_t>0x9E3779B97F4A7C15) >> self.hshift

    cdef inline int32_t _find(self, uint64_t ref) noexcept nogil:
        cdef uint64_t i = self._slot(ref)
        cdef int32_t v
        while True:
            v = self.hvals[i]
            if v < 0 or self.hkeys[i] == ref:
                return v
            i = (i + 1) & self.hmask

    cdef int _grow_hash(self) except -1:
        cdef uint64_t old_cap = self.hmask + 1, i, j
        cdef uint64_t* ok = self.hkeys
        cdef int32_t* ov = self.hvals
        cdef uint64_t cap = old_cap * 2
        self.hkeys = <uint64_t*>malloc(cap * sizeof(uint64_t))
        self.hvals = <int32_t*>malloc(cap * sizeof(int32_t))
        if self.hkeys == NULL or self.hvals == NULL:
            raise MemoryError()
        memset(self.hvals, 0xFF, cap * sizeof(int32_t))
        self.hmask = cap - 1
        self.hshift -= 1
        for i in range(old_cap):
            if ov[i] >= 0:
                j = self._slot(ok[i])
                while self.hvals[j] >= 0:
                    j = (j + 1) & self.hmask
                self.hkeys[j] = ok[i]
                self.hvals[j] = ov[i]
        free(ok)
        free(ov)
        return 0

    cdef int _h_insert(self, uint64_t ref, int32_t oi) except -1:
        cdef uint64_t i
        if (self.hcount + 1) * 2 > <int64_t>(self.hmask + 1):
            self._grow_hash()
        i = self._slot(ref)
        while self.hvals[i] >= 0:
            i = (i + 1) & self.hmask
        self.hkeys[i] = ref
        self.hvals[i] = oi
        self.hcount += 1
        return 0

    cdef void _h_delete(self, uint64_t ref) noexcept nogil:
        cdef uint64_t i = self._slot(ref), j, h
        while self.hvals[i] >= 0 and self.hkeys[i] != ref:
            i = (i + 1) & self.hmask
        if self.hvals[i] < 0:
            return
        j = i
        while True:
            j = (j + 1) & self.hmask
            if self.hvals[j] < 0:
                break
            h = self._slot(self.hkeys[j])
            # Leave the entry where it is when its home slot lies cyclically in (i, j].
            if (i <= j and i < h and h <= j) or (i > j and (i < h or h <= j)):
                continue
            self.hkeys[i] = self.hkeys[j]
            self.hvals[i] = self.hvals[j]
            i = j
        self.hvals[i] = -1
        self.hcount -= 1

    # -- pools --------------------------------------------------------------------------
    cdef int32_t _new_order(self) except -1:
        cdef int32_t i, old = self.o_cap
        cdef COrder* p
        if self.o_free < 0:
            p = <COrder*>realloc(self.orders_, 2 * old * sizeof(COrder))
            if p == NULL:
                raise MemoryError()
            self.orders_ = p
            self.o_cap = 2 * old
            for i in range(old, self.o_cap):
                self.orders_[i].next = i + 1 if i + 1 < self.o_cap else -1
            self.o_free = old
        i = self.o_free
        self.o_free = self.orders_[i].next
        return i

    cdef int32_t _new_level(self) except -1:
        cdef int32_t i, old = self.l_cap
        cdef CLevel* p
        if self.l_free < 0:
            p = <CLevel*>realloc(self.levels_, 2 * old * sizeof(CLevel))
            if p == NULL:
                raise MemoryError()
            self.levels_ = p
            self.l_cap = 2 * old
            for i in range(old, self.l_cap):
                self.levels_[i].head = i + 1 if i + 1 < self.l_cap else -1
            self.l_free = old
        i = self.l_free
        self.l_free = self.levels_[i].head
        return i

    cdef int32_t _book(self, uint32_t locate, const uint8_t* stock, object symbol) except -1:
        """The index of ``locate``'s book, created (with its symbol) on first use."""
        cdef int32_t bi = self.book_of[locate]
        cdef CBookS* p
        cdef int s
        if bi >= 0:
            return bi
        if self.nb == self.b_cap:
            p = <CBookS*>realloc(self.cbooks, 2 * self.b_cap * sizeof(CBookS))
            if p == NULL:
                raise MemoryError()
            self.cbooks = p
            self.b_cap *= 2
        bi = self.nb
        for s in range(2):
            self.cbooks[bi].side[s].n = 0
            self.cbooks[bi].side[s].cap = 16
            self.cbooks[bi].side[s].keys = <uint32_t*>malloc(16 * sizeof(uint32_t))
            self.cbooks[bi].side[s].lv = <int32_t*>malloc(16 * sizeof(int32_t))
            if self.cbooks[bi].side[s].keys == NULL or self.cbooks[bi].side[s].lv == NULL:
                raise MemoryError()
        self.cbooks[bi].order_count = 0
        self.cbooks[bi].locate = locate
        self.nb += 1
        self.book_of[locate] = bi
        if symbol is None:
            symbol = ""
            if stock != NULL:
                symbol = PyBytes_FromStringAndSize(<const char*>stock, 8).decode("latin-1")
                symbol = symbol.rstrip(" ")
        obj = CBook(self, bi, locate, symbol)
        self.book_objs.append(obj)
        self.books[locate] = obj
        name_locate(self.locates, symbol, locate, directory=False)
        return bi

    # -- book changes ---------------------------------------------------------------------
    cdef int _insert(self, int32_t bi, uint64_t ref, uint8_t side, uint32_t price,
                     int64_t shares) except -1:
        cdef CSide* s = &self.cbooks[bi].side[side]
        cdef uint32_t key = side_key(side, price)
        cdef Py_ssize_t pos = lower_bound(s, key)
        cdef int32_t li, oi
        cdef CLevel* lvl
        cdef COrder* o
        cdef uint32_t* nk
        cdef int32_t* nl
        if pos < s.n and s.keys[pos] == key:
            li = s.lv[pos]
        else:
            li = self._new_level()
            if s.n == s.cap:
                nk = <uint32_t*>realloc(s.keys, 2 * s.cap * sizeof(uint32_t))
                if nk == NULL:
                    raise MemoryError()
                s.keys = nk
                nl = <int32_t*>realloc(s.lv, 2 * s.cap * sizeof(int32_t))
                if nl == NULL:
                    raise MemoryError()
                s.lv = nl
                s.cap *= 2
            if pos < s.n:
                memmove(&s.keys[pos + 1], &s.keys[pos], (s.n - pos) * sizeof(uint32_t))
                memmove(&s.lv[pos + 1], &s.lv[pos], (s.n - pos) * sizeof(int32_t))
            s.keys[pos] = key
            s.lv[pos] = li
            s.n += 1
            lvl = &self.levels_[li]
            lvl.price = price
            lvl.count = 0
            lvl.shares = 0
            lvl.head = -1
            lvl.tail = -1
        oi = self._new_order()
        o = &self.orders_[oi]
        lvl = &self.levels_[li]
        o.ref = ref
        o.shares = shares
        o.price = price
        o.level = li
        o.book = bi
        o.side = side
        o.next = -1
        o.prev = lvl.tail
        if lvl.tail >= 0:
            self.orders_[lvl.tail].next = oi
        else:
            lvl.head = oi
        lvl.tail = oi
        lvl.count += 1
        lvl.shares += shares
        self.cbooks[bi].order_count += 1
        self._h_insert(ref, oi)
        if self.n_pending and ref in self.pending_:
            self._resolve(ref)
        return 0

    cdef void _remove(self, int32_t oi) noexcept:
        cdef COrder* o = &self.orders_[oi]
        cdef CLevel* lvl = &self.levels_[o.level]
        cdef CSide* s
        cdef Py_ssize_t pos
        if o.prev >= 0:
            self.orders_[o.prev].next = o.next
        else:
            lvl.head = o.next
        if o.next >= 0:
            self.orders_[o.next].prev = o.prev
        else:
            lvl.tail = o.prev
        lvl.count -= 1
        lvl.shares -= o.shares
        self.cbooks[o.book].order_count -= 1
        if lvl.count == 0:
            s = &self.cbooks[o.book].side[o.side]
            pos = lower_bound(s, side_key(o.side, o.price))
            if pos < s.n - 1:
                memmove(&s.keys[pos], &s.keys[pos + 1], (s.n - pos - 1) * sizeof(uint32_t))
                memmove(&s.lv[pos], &s.lv[pos + 1], (s.n - pos - 1) * sizeof(int32_t))
            s.n -= 1
            lvl.head = self.l_free
            self.l_free = o.level
        self._h_delete(o.ref)
        o.next = self.o_free
        self.o_free = oi

    cdef inline void _reduce(self, int32_t oi, int64_t shares) noexcept:
        cdef COrder* o = &self.orders_[oi]
        if shares >= o.shares:
            if shares > o.shares:
                self.clamped_ += 1
            self._remove(oi)
        else:
            o.shares -= shares
            self.levels_[o.level].shares -= shares

    # -- messages (fields as C values; shared by the bytes and the object paths) ----------
    cdef int _op_add(self, uint32_t locate, uint64_t ref, uint8_t side_byte, int64_t shares,
                     uint32_t price, const uint8_t* stock, object symbol) except -1:
        cdef int32_t oi = self._find(ref)
        cdef int32_t bi
        if oi >= 0:
            self.dup_ += 1
            self._remove(oi)
        if shares == 0 or price == 0 or (side_byte != 0x42 and side_byte != 0x53):
            self.rejected_ += 1  # no order (book.py's module docs)
            return 0
        bi = self.book_of[locate]
        if bi < 0:
            bi = self._book(locate, stock, symbol)
        self._insert(bi, ref, 0 if side_byte == 0x42 else 1, price, shares)
        return 0

    cdef int _op_exec(self, uint8_t kind, uint64_t ref, int64_t shares, uint64_t ts,
                      uint64_t match, uint8_t printable, uint32_t price) except -1:
        cdef int32_t oi = self._find(ref)
        cdef COrder* o
        if oi < 0:
            self._orphan(ref, (kind, ref, shares, ts, match, printable, price))
            return 0
        o = &self.orders_[oi]
        if (self.tr_on or self.on_print is not None) and (kind == 0x45 or printable == 0x59):
            self._print(kind, self.cbooks[o.book].locate, ts, match,
                        o.price if kind == 0x45 else price,
                        shares if shares < o.shares else o.shares,
                        0x42 if o.side == 0 else 0x53, o.ref)
        self._reduce(oi, shares)
        return 0

    cdef int _op_cancel(self, uint64_t ref, int64_t shares) except -1:
        cdef int32_t oi = self._find(ref)
        if oi < 0:
            self._orphan(ref, (0x58, ref, shares))
            return 0
        self._reduce(oi, shares)
        return 0

    cdef int _op_delete(self, uint64_t ref) except -1:
        cdef int32_t oi = self._find(ref)
        if oi < 0:
            self._orphan(ref, (0x44, ref))
            return 0
        self._remove(oi)
        return 0

    cdef int _op_replace(self, uint64_t old, uint64_t new, int64_t shares,
                         uint32_t price) except -1:
        cdef int32_t oi = self._find(old)
        cdef int32_t bi, stale
        cdef uint8_t side
        if oi < 0:
            self._orphan(old, (0x55, old, new, shares, price))
            return 0
        bi = self.orders_[oi].book
        side = self.orders_[oi].side
        self._remove(oi)
        stale = self._find(new)
        if stale >= 0:
            self.dup_ += 1
            self._remove(stale)
        if shares == 0 or price == 0:
            self.rejected_ += 1
            return 0
        # A replace loses time priority: the new order joins the back of its level.
        self._insert(bi, new, side, price, shares)
        return 0

    # -- reorder window -----------------------------------------------------------------
    cdef int _orphan(self, uint64_t ref, tuple held) except -1:
        if self.reorder_window == 0:
            self.unknown_ += 1
            return 0
        lst = self.pending_.get(ref)
        if lst is None:
            self.pending_[ref] = [held]
            self.expiry_.append((self.messages_ + self.reorder_window, ref))
            if self.next_expiry == TW_INT64_MAX:
                self.next_expiry = self.messages_ + self.reorder_window
        else:
            lst.append(held)
        self.n_pending += 1
        return 0

    cdef int _expire(self, int64_t now) except -1:
        expiry = self.expiry_
        pending = self.pending_
        while expiry and expiry[0][0] < now:
            ref = expiry.popleft()[1]
            held = pending.pop(ref, None)
            if held is not None:
                self.unknown_ += len(held)
                self.n_pending -= len(held)
        self.next_expiry = expiry[0][0] if expiry else TW_INT64_MAX
        return 0

    cdef int _resolve(self, uint64_t ref) except -1:
        cdef list held = self.pending_.pop(ref)
        cdef tuple m
        cdef int kind
        self.n_pending -= len(held)
        self.reordered_ += len(held)
        for m in held:
            kind = m[0]
            if self.held_to is not None:  # the venue's queue model sees it first
                self.held_to.held(m)
            if kind == 0x45 or kind == 0x43:
                self._op_exec(kind, m[1], m[2], m[3], m[4], m[5], m[6])
            elif kind == 0x58:
                self._op_cancel(m[1], m[2])
            elif kind == 0x44:
                self._op_delete(m[1])
            else:
                self._op_replace(m[1], m[2], m[3], m[4])
        return 0

    cdef inline int _count(self, uint8_t t) except -1:
        self.messages_ += 1
        self.counts[t] += 1
        if self.messages_ > self.next_expiry:
            self._expire(self.messages_)
        return 0

    # -- feeding --------------------------------------------------------------------------
    def apply(self, msg):
        """Apply one decoded ITCH message (a :mod:`tickwire.itch` dataclass)."""
        cdef str t = msg.message_type
        cdef uint8_t c = ord(t)
        self._count(c)
        if c == 0x41 or c == 0x46:
            side = msg.buy_sell_indicator
            self._op_add(msg.stock_locate, msg.order_reference_number,
                         0x42 if side == "B" else (0x53 if side == "S" else 0),
                         msg.shares, msg.price, NULL, msg.stock)
        elif c == 0x45:
            self._op_exec(c, msg.order_reference_number, msg.executed_shares, msg.timestamp,
                          msg.match_number, 0, 0)
        elif c == 0x43:
            self._op_exec(c, msg.order_reference_number, msg.executed_shares, msg.timestamp,
                          msg.match_number, 0x59 if msg.printable == "Y" else 0x4E,
                          msg.execution_price)
        elif c == 0x58:
            self._op_cancel(msg.order_reference_number, msg.cancelled_shares)
        elif c == 0x44:
            self._op_delete(msg.order_reference_number)
        elif c == 0x55:
            self._op_replace(msg.original_order_reference_number,
                             msg.new_order_reference_number, msg.shares, msg.price)
        else:
            handler = self.admin.get(t)
            if handler is not None:
                handler(msg)

    def feed(self, messages):
        """Apply every message of ``messages`` (decoded ITCH messages) in order."""
        for msg in messages:
            self.apply(msg)

    def feed_binaryfile(self, data, bint final=True):
        """Decode BinaryFILE bytes (2-byte length prefix, then the message) straight into
        the books, with :func:`tickwire.itch.read`'s framing rules: a known type's frame is
        its type's length whatever the prefix says (``length_fixups`` counts the
        disagreements), an unknown type is skipped by its prefix (``skipped``).

        Returns the number of bytes consumed: with ``final=False`` an incomplete last frame
        is left for the next chunk; with ``final=True`` it raises
        :class:`tickwire.itch.DecodeError`, as does an unknown type with a zero prefix,
        and, in the first bytes fed, a capture or a file compressed otherwise than by gzip
        (:func:`stream_start`).
        """
        cdef bytes buf = as_bytes(data)
        cdef Frames f
        cdef Py_ssize_t length
        stream_start(self, buf)
        f = frames_of(buf, &self.skipped, &self.length_fixups)
        while True:
            length = frames_next(&f)
            if length == 0:
                break
            self._apply_frame(f.msg, length)
        return frames_close(f, final)

    cdef int _apply_frame(self, const uint8_t* m, Py_ssize_t length) except -1:
        """Apply one framed message (``m`` its type byte, ``length`` its spec length) read
        straight from its bytes: the body of :meth:`feed_binaryfile`, of the compiled
        replay core's feed and of the tickwire.itch sink (:meth:`itch_sink`)."""
        cdef uint8_t t = m[0]
        cdef uint16_t rec_loc = 0
        if self.rec_on:  # the BBO row's stock, asked before the message removes its order
            rec_loc = self._filed_loc(m, t)
        self.messages_ += 1
        self.counts[t] += 1
        if self.messages_ > self.next_expiry:
            self._expire(self.messages_)
        if t == 0x41 or t == 0x46:
            self._op_add(rd16(m + L_LOCATE), rd64(m + A_REF), m[A_SIDE], rd32(m + A_SHARES),
                         rd32(m + A_PRICE), m + A_STOCK, None)
        elif t == 0x44:
            self._op_delete(rd64(m + D_REF))
        elif t == 0x55:
            self._op_replace(rd64(m + U_OLD), rd64(m + U_NEW), rd32(m + U_SHARES),
                             rd32(m + U_PRICE))
        elif t == 0x45:
            self._op_exec(t, rd64(m + E_REF), rd32(m + E_SHARES), rd48(m + L_TS),
                          rd64(m + E_MATCH), 0, 0)
        elif t == 0x58:
            self._op_cancel(rd64(m + X_REF), rd32(m + X_SHARES))
        elif t == 0x43:
            self._op_exec(t, rd64(m + C_REF), rd32(m + C_SHARES), rd48(m + L_TS),
                          rd64(m + C_MATCH), m[C_PRINTABLE], rd32(m + C_PRICE))
        elif t == 0x50:
            if self.tr_on or self.on_print is not None:
                self._print(t, rd16(m + L_LOCATE), rd48(m + L_TS), rd64(m + P_MATCH),
                            rd32(m + P_PRICE), rd32(m + P_SHARES), m[P_SIDE], rd64(m + P_REF))
        elif t == 0x51:
            if self.tr_on or self.on_print is not None:
                self._print(t, rd16(m + L_LOCATE), rd48(m + L_TS), rd64(m + Q_MATCH),
                            rd32(m + Q_PRICE), rd64(m + Q_SHARES), 0, 0)
        elif t == 0x42:
            if self.tr_on or self.on_print is not None:
                self._print(t, rd16(m + L_LOCATE), rd48(m + L_TS), rd64(m + B_MATCH), 0, 0, 0, 0)
        else:
            handler = self.admin.get(chr(t))
            if handler is not None:
                handler(itch_decode(PyBytes_FromStringAndSize(<const char*>m, length)))
            return 0
        if self.rec_on and t != 0x50 and t != 0x51 and t != 0x42:
            self._rec_bbo(rec_loc, rd48(m + L_TS))
        return 0

    cdef inline uint16_t _filed_loc(self, const uint8_t* m, uint8_t t) noexcept nogil:
        """The locate of the book message ``m`` (type ``t``) changes, asked before it is
        applied: for an E, C, X, D or U (by its original, :func:`named_ref`) naming an
        order these books hold, that order's book's, whatever locate ``m`` carries (the
        book applies it there); else ``m``'s (an order not held: the reorder window holds
        the message, or drops it). The reference's rule (``book.filed_locate``), read here
        for the BBO recorder (:meth:`_apply_frame`) and the replay core's deliveries
        (``ReplayCore._filed_loc``): a row, an event and risk's mark go to the stock whose
        book changed. Test: ``test_engine_series.py::
        test_a_bbo_row_goes_to_the_stock_whose_book_changed``."""
        cdef uint64_t ref
        cdef int32_t oi
        if not named_ref(m, t, &ref):
            return rd16(m + L_LOCATE)
        oi = self._find(ref)
        if oi < 0:
            return rd16(m + L_LOCATE)
        return <uint16_t>self.cbooks[self.orders_[oi].book].locate

    # -- prints: on_print and the trades recorder ----------------------------------------
    cdef int _print(self, uint8_t kind, uint32_t locate, uint64_t ts, uint64_t match,
                    uint32_t price, uint64_t shares, uint8_t side, uint64_t ref) except -1:
        """One print on the tape (E, printable C, P, Q, B; ``side`` 0 for none): a row of
        the trades recorder when it is on, a :class:`TapePrint` to ``on_print`` when set."""
        cdef Py_ssize_t r
        if self.tr_on:
            r = self.tr_rows
            rec_reserve(self.tr, TRADE_WIDTHS, TR_COLS, r, &self.tr_cap)
            (<uint64_t*>self.tr[TR_TS].buf)[r] = ts
            (<uint16_t*>self.tr[TR_LOCATE].buf)[r] = <uint16_t>locate
            self.tr[TR_KIND].buf[r] = kind
            (<uint64_t*>self.tr[TR_MATCH].buf)[r] = match
            (<uint32_t*>self.tr[TR_PRICE].buf)[r] = price
            (<uint64_t*>self.tr[TR_SHARES].buf)[r] = shares
            self.tr[TR_SIDE].buf[r] = side
            (<uint64_t*>self.tr[TR_REF].buf)[r] = ref
            self.tr_rows = r + 1
        if self.on_print is not None:
            self.on_print(TapePrint(chr(kind), locate, ts, match, price, shares,
                                    chr(side) if side else "", ref))
        return 0

    def record_trades(self, bint on=True):
        """Record every print (E, printable C, P, Q, B, in tape order, whether fed as
        bytes or as objects) as a row in C buffers; :meth:`take_trades` hands them over.
        ``on_print``, when set, is still called."""
        self.tr_on = on

    def take_trades(self):
        """``(rows, {column: bytes})`` of the prints recorded since the last take, and
        start afresh. Columns (host order): ``timestamp`` (u64), ``stock_locate`` (u16),
        ``kind`` (u8, the ITCH letter), ``match_number`` (u64), ``price`` (u32),
        ``shares`` (u64), ``side`` (u8: ``B``/``S`` for E and C, the message's for P, 0
        for none), ``order_reference_number`` (u64)."""
        names = ("timestamp", "stock_locate", "kind", "match_number", "price", "shares",
                 "side", "order_reference_number")
        cdef int c
        cdef Py_ssize_t rows = self.tr_rows
        out = {}
        for c in range(TR_COLS):
            out[names[c]] = PyBytes_FromStringAndSize(<const char*>self.tr[c].buf,
                                                      rows * TRADE_WIDTHS[c])
        self.tr_rows = 0
        return rows, out

    # -- tickwire.itch sink -----------------------------------------------------------------
    def itch_sink(self):
        """A ``"tickwire.itch.sink"`` capsule: attached to a tickwire.itch framer
        (``ColumnBuilder.attach``), every message it frames is applied to these books as
        :meth:`feed_binaryfile` applies it (recorders included), in C, with no Python call
        per message. The capsule holds a reference to this manager."""
        cap = PyCapsule_New(&self.sink_, "tickwire.itch.sink", _release_sink)
        Py_INCREF(self)
        PyCapsule_SetContext(cap, <void*>self)
        return cap

    # -- BBO recorder -----------------------------------------------------------------------
    def record_bbo(self, bint on=True):
        """Record, during :meth:`feed_binaryfile`, a row each time a message that can move
        a book (A, F, D, U, E, X, C) leaves the best bid or offer of the instrument whose
        book it changed (:meth:`_filed_loc`: for one naming a feed order, the order's
        stock, whatever locate it carries) different from the last row recorded for it
        (the first such message of an instrument always records one); :meth:`take_bbo`
        hands the rows over."""
        if on and self.rec_last == NULL:
            self.rec_last = <RecLast*>malloc(65536 * sizeof(RecLast))
            if self.rec_last == NULL:
                raise MemoryError()
            memset(self.rec_last, 0, 65536 * sizeof(RecLast))
        self.rec_on = on

    cdef int _rec_bbo(self, uint16_t locate, uint64_t ts) except -1:
        cdef int32_t bi = self.book_of[locate]
        cdef RecLast now
        cdef RecLast* last = &self.rec_last[locate]
        cdef CSide* sd
        cdef CLevel* lvl
        cdef Py_ssize_t r, byte
        cdef uint8_t bit
        memset(&now, 0, sizeof(now))
        now.seen = True
        if bi >= 0:
            sd = &self.cbooks[bi].side[0]
            if sd.n:
                lvl = &self.levels_[sd.lv[sd.n - 1]]
                now.bid_ok, now.bid_px, now.bid_sz = True, lvl.price, lvl.shares
            sd = &self.cbooks[bi].side[1]
            if sd.n:
                lvl = &self.levels_[sd.lv[sd.n - 1]]
                now.ask_ok, now.ask_px, now.ask_sz = True, lvl.price, lvl.shares
        if (last.seen and last.bid_ok == now.bid_ok and last.ask_ok == now.ask_ok
                and last.bid_px == now.bid_px and last.bid_sz == now.bid_sz
                and last.ask_px == now.ask_px and last.ask_sz == now.ask_sz):
            return 0
        last[0] = now
        r = self.rec_rows
        rec_reserve(self.rec, BBO_WIDTHS, REC_COLS, r, &self.rec_cap)
        byte = r >> 3
        bit = <uint8_t>(1 << (r & 7))
        if (r & 7) == 0:
            self.rec[REC_BID_OK].buf[byte] = 0
            self.rec[REC_ASK_OK].buf[byte] = 0
        (<uint64_t*>self.rec[REC_TS].buf)[r] = ts
        (<uint16_t*>self.rec[REC_LOCATE].buf)[r] = locate
        (<uint32_t*>self.rec[REC_BID_PX].buf)[r] = now.bid_px
        (<uint32_t*>self.rec[REC_ASK_PX].buf)[r] = now.ask_px
        (<int64_t*>self.rec[REC_BID_SZ].buf)[r] = now.bid_sz
        (<int64_t*>self.rec[REC_ASK_SZ].buf)[r] = now.ask_sz
        if now.bid_ok:
            self.rec[REC_BID_OK].buf[byte] |= bit
        if now.ask_ok:
            self.rec[REC_ASK_OK].buf[byte] |= bit
        self.rec_rows = r + 1
        return 0

    def take_bbo(self):
        """``(rows, {column: bytes})`` of the BBO rows recorded since the last take, and
        start afresh. Columns: ``timestamp`` (u64), ``stock_locate`` (u16), ``bid_price``
        and ``ask_price`` (u32) with ``bid_valid`` / ``ask_valid`` (Arrow validity
        bitmaps: 0 for an empty side), ``bid_size`` and ``ask_size`` (i64), host order."""
        names = ("timestamp", "stock_locate", "bid_price", "bid_valid", "bid_size",
                 "ask_price", "ask_valid", "ask_size")
        cdef int c
        cdef Py_ssize_t rows = self.rec_rows
        out = {}
        for c in range(REC_COLS):
            out[names[c]] = PyBytes_FromStringAndSize(
                <const char*>self.rec[c].buf,
                rows * BBO_WIDTHS[c] if BBO_WIDTHS[c] else (rows + 7) >> 3,
            )
        self.rec_rows = 0
        return rows, out

    # -- queries --------------------------------------------------------------------------
    def book(self, int locate):
        """The book of ``locate`` (created empty on first use)."""
        obj = self.books.get(locate)
        if obj is None:
            if not 0 <= locate < 65536:
                raise ValueError(f"stock locate {locate} is not a 16-bit value")
            self._book(locate, NULL, "")
            obj = self.books[locate]
        return obj

    def locate_of(self, symbol):
        """The stock locate of ``symbol``'s book, as ``BookManager.locate_of`` says: the
        one its latest Stock Directory named, else the first book that carried its name
        (``book.name_locate``); None for a symbol the feed has not named or whose book
        a directory renamed (``book.book_locate``)."""
        return book_locate(self.locates, symbol)

    def bbo(self, int locate):
        """Best bid and offer of ``locate``."""
        if not 0 <= locate < 65536 or self.book_of[locate] < 0:
            return BBO(None, 0, None, 0)
        return self._bbo(self.book_of[locate])

    cdef object _bbo(self, int32_t bi):
        cdef CSide* b = &self.cbooks[bi].side[0]
        cdef CSide* a = &self.cbooks[bi].side[1]
        cdef CLevel* lb
        cdef CLevel* la
        if b.n:
            lb = &self.levels_[b.lv[b.n - 1]]
            if a.n:
                la = &self.levels_[a.lv[a.n - 1]]
                return _bbo_new(lb.price, lb.shares, la.price, la.shares)
            return _bbo_new(lb.price, lb.shares, None, 0)
        if a.n:
            la = &self.levels_[a.lv[a.n - 1]]
            return _bbo_new(None, 0, la.price, la.shares)
        return _bbo_new(None, 0, None, 0)

    cdef list _levels(self, int32_t bi, int side, Py_ssize_t n):
        cdef CSide* s = &self.cbooks[bi].side[side]
        cdef Py_ssize_t i, stop
        cdef CLevel* lvl
        cdef list out = []
        stop = 0 if n < 0 or n >= s.n else s.n - n
        i = s.n - 1
        while i >= stop:
            lvl = &self.levels_[s.lv[i]]
            out.append(LevelView(lvl.price, lvl.shares, lvl.count))
            i -= 1
        return out

    cdef tuple _top(self, int32_t bi, int side, Py_ssize_t n):
        cdef CSide* s = &self.cbooks[bi].side[side]
        cdef Py_ssize_t j, k = 0 if n <= 0 else (s.n if s.n < n else n)
        cdef CLevel* lvl
        cdef tuple out = PyTuple_New(k)
        for j in range(k):
            lvl = &self.levels_[s.lv[s.n - 1 - j]]
            pair = (lvl.price, lvl.shares)
            Py_INCREF(pair)
            PyTuple_SET_ITEM(out, j, pair)
        return out

    cdef object _info(self, int32_t oi):
        cdef COrder* o = &self.orders_[oi]
        return OrderInfo(o.ref, "B" if o.side == 0 else "S", o.price, o.shares,
                         self.cbooks[o.book].locate)

    cdef list _orders_at(self, int32_t bi, int side, uint32_t price):
        cdef CSide* s = &self.cbooks[bi].side[side]
        cdef uint32_t key = side_key(side, price)
        cdef Py_ssize_t pos = lower_bound(s, key)
        cdef int32_t oi
        cdef list out = []
        if pos >= s.n or s.keys[pos] != key:
            return out
        oi = self.levels_[s.lv[pos]].head
        while oi >= 0:
            out.append(self._info(oi))
            oi = self.orders_[oi].next
        return out

    def order(self, uint64_t ref):
        """The live order ``ref`` (:class:`OrderInfo`), or None."""
        cdef int32_t oi = self._find(ref)
        return None if oi < 0 else self._info(oi)

    def order_locate(self, uint64_t ref):
        """The stock locate of the book filing live order ``ref``, or -1 (no
        :class:`OrderInfo` made): ``BookManager.order_locate``."""
        cdef int32_t oi = self._find(ref)
        return -1 if oi < 0 else self.cbooks[self.orders_[oi].book].locate

    def __contains__(self, ref):
        return ref >= 0 and self._find(ref) >= 0

    @property
    def live_orders(self):
        """The number of live orders over all books."""
        return self.hcount

    def iter_orders(self):
        """Every live order (:class:`OrderInfo`), in hash-table order."""
        cdef uint64_t i
        out = []
        for i in range(self.hmask + 1):
            if self.hvals[i] >= 0:
                out.append(self._info(self.hvals[i]))
        return iter(out)

    def queue_ahead(self, uint64_t ref):
        """(shares, orders) ahead of a live order in its price level's FIFO."""
        cdef int32_t oi = self._find(ref)
        cdef int32_t cur
        cdef int64_t shares = 0, count = 0
        if oi < 0:
            raise KeyError(f"no live order {ref}")
        cur = self.levels_[self.orders_[oi].level].head
        while cur != oi:
            shares += self.orders_[cur].shares
            count += 1
            cur = self.orders_[cur].next
        return shares, count

    @property
    def stats(self):
        """A snapshot of the counters (:class:`tickwire.engine.book.BookStats`)."""
        cdef int i
        by_type = {chr(i): self.counts[i] for i in range(256) if self.counts[i]}
        return BookStats(self.messages_, self.unknown_, self.reordered_, self.dup_,
                         self.clamped_, self.rejected_, by_type, self.renamed_)

    @property
    def pending(self):
        """Messages held in the reorder window, waiting for their order's add."""
        return self.n_pending

    @property
    def unknown_references(self):
        """Messages whose order never appeared: dropped ones plus those still held."""
        return self.unknown_ + self.n_pending

    cdef list _book_violations(self, int32_t bi):
        cdef CBookS* bk = &self.cbooks[bi]
        cdef CSide* s
        cdef CLevel* lvl
        cdef COrder* o
        cdef int side
        cdef Py_ssize_t i
        cdef int32_t oi, prev
        cdef int64_t total, count, n
        cdef list problems = []
        count = 0
        for side in range(2):
            s = &bk.side[side]
            name = "B" if side == 0 else "S"
            for i in range(s.n):
                lvl = &self.levels_[s.lv[i]]
                if i and s.keys[i - 1] >= s.keys[i]:
                    problems.append(f"{name} levels out of order at {lvl.price}")
                if side_key(side, lvl.price) != s.keys[i]:
                    problems.append(f"{name} level keyed {s.keys[i]} says {lvl.price}")
                if lvl.count <= 0 or lvl.head < 0:
                    problems.append(f"{name} level {lvl.price} is empty but present")
                total = 0
                n = 0
                prev = -1
                oi = lvl.head
                while oi >= 0 and n <= lvl.count:
                    o = &self.orders_[oi]
                    total += o.shares
                    n += 1
                    if o.prev != prev or o.level != s.lv[i] or o.book != bi:
                        problems.append(f"order {o.ref} is filed in the wrong place")
                    if o.side != side or o.price != lvl.price or o.shares <= 0:
                        problems.append(f"order {o.ref} disagrees with its level {name}{lvl.price}")
                    if self._find(o.ref) != oi:
                        problems.append(f"order {o.ref} is not indexed")
                    prev = oi
                    oi = o.next
                if prev != lvl.tail:
                    problems.append(f"{name} level {lvl.price}: tail is not the last order")
                if n != lvl.count:
                    problems.append(f"{name} level {lvl.price}: count {lvl.count} != {n} orders")
                if total != lvl.shares:
                    problems.append(f"{name} level {lvl.price}: total {lvl.shares} != sum {total}")
                count += n
        if count != bk.order_count:
            problems.append(f"order count {bk.order_count} != {count} orders in levels")
        return problems

    def live_in_books(self):
        """The number of orders filed in books (equals :attr:`live_orders` when sound)."""
        cdef int32_t i
        cdef int64_t n = 0
        for i in range(self.nb):
            n += self.cbooks[i].order_count
        return n

    # -- administrative and tape messages (Python objects; rare) --------------------------
    def _trade(self, msg):
        self._print(0x50, msg.stock_locate, msg.timestamp, msg.match_number, msg.price,
                    msg.shares, ord(str(msg.buy_sell_indicator)), msg.order_reference_number)

    def _cross(self, msg):
        self._print(0x51, msg.stock_locate, msg.timestamp, msg.match_number,
                    msg.cross_price, msg.shares, 0, 0)

    def _broken(self, msg):
        self._print(0x42, msg.stock_locate, msg.timestamp, msg.match_number, 0, 0, 0, 0)

    def _directory(self, msg):
        b = self.book(msg.stock_locate)
        previous = b.symbol
        b.symbol = msg.stock
        b.directory = msg
        if name_locate(self.locates, msg.stock, msg.stock_locate, directory=True,
                       previous=previous):
            self.renamed_ += 1

    def _system(self, msg):
        self.system_event = str(msg.event_code)

    def _trading_action(self, msg):
        b = self.book(msg.stock_locate)
        b.trading_state = str(msg.trading_state)
        b.trading_action = msg
        if not b.symbol:
            b.symbol = msg.stock
            name_locate(self.locates, msg.stock, msg.stock_locate, directory=False)

    def _reg_sho(self, msg):
        self.book(msg.stock_locate).reg_sho = msg

    def _participant(self, msg):
        self.book(msg.stock_locate).participants[msg.mpid] = msg

    def _mwcb_levels(self, msg):
        self.mwcb_levels = msg

    def _mwcb_status(self, msg):
        self.mwcb_status = msg

    def _ipo(self, msg):
        self.book(msg.stock_locate).ipo_quoting = msg

    def _luld(self, msg):
        self.book(msg.stock_locate).luld_collar = msg

    def _operational_halt(self, msg):
        self.book(msg.stock_locate).operational_halts[str(msg.market_code)] = msg

    def _noii(self, msg):
        self.book(msg.stock_locate).noii = msg

    def _rpii(self, msg):
        self.book(msg.stock_locate).rpii = msg

    def _dlcr(self, msg):
        self.book(msg.stock_locate).dlcr = msg


# -- the compiled replay core of the backtest ---------------------------------------------
DEF FEED_SLOT = 56  # bytes kept per message in flight to the strategy (ITCH 5.0's longest is 50)

cdef struct FeedItem:
    int64_t deliver   # strategy time it reaches the strategy
    int64_t ts        # its exchange time
    uint16_t length
    uint8_t data[FEED_SLOT]

# A scheduled event of ReplayCore's heap (the reference runner's heap tuple, typed): the
# key (time, kind, seq) orders it, seq being unique; payload is a strong reference.
cdef struct HeapItem:
    int64_t t
    int64_t kind      # EV_EXPIRE, EV_ARRIVE, EV_RESPOND, EV_TIMER (runner._EXPIRE, ...)
    int64_t seq
    PyObject* payload

cdef enum:
    EV_EXPIRE = -1  # a GTT deadline at the venue: before anything else of its time
    EV_ARRIVE = 0
    EV_RESPOND = 1
    EV_TIMER = 2


cdef inline bint heap_less(HeapItem* a, HeapItem* b) noexcept nogil:
    """Whether ``a`` runs before ``b``: the runner's heap tuples compared, (time, kind,
    seq). The kind ranks simultaneous events (a GTT deadline at the venue, then an arrival
    at the venue, then an answer to the strategy, then a timer: a timer due with an
    answer sees it), the seq keeps the
    order of scheduling; seq is unique, so the order is total and the pops are heapq's.
    Test: test_engine_backtest_core.py (the simultaneous-events test fails with the
    kinds swapped)."""
    if a.t != b.t:
        return a.t < b.t
    if a.kind != b.kind:
        return a.kind < b.kind
    return a.seq < b.seq

# Where the strategy side of a locate runs (ReplayCore.route).
cdef enum:
    ROUTE_PY = 0      # through StrategyContext.market (unknown symbol, or every book message)
    ROUTE_SKIP = 1    # known symbol outside the subscription: the strategy's book only, in C
    ROUTE_FILTER = 2  # subscribed, book="bbo"/"depth"/"none": in C, Python for what it consumes

# What a filtered locate's declaration asks of the core (ReplayCore.decl, set by _route).
cdef enum:
    BOOK_EVERY = 0    # on_book for every book message (never filtered: ROUTE_PY)
    BOOK_BBO = 1      # on_book when the BBO changes
    BOOK_QUIET = 2    # no on_book call: "none", or "every" with the base no-op (counted)
    BOOK_DEPTH = 3    # on_book when the top ``depth`` levels change

cdef struct Decl:
    uint8_t book         # BOOK_*
    bint count_book      # BOOK_QUIET for "every" with the base no-op on_book: count each
    bint trades          # the prints are delivered (on_trade, or counted: count_prints)
    bint count_prints    # on_trade is the base no-op: count the prints, never call
    int32_t depth        # BOOK_DEPTH: the levels of each side it watches


cdef inline size_t top_size(int32_t depth) noexcept nogil:
    """The most bytes a top-levels snapshot (ReplayCore._top_of) of ``depth`` levels
    takes."""
    return (2 + 4 * <size_t>depth) * sizeof(int64_t)


cdef PySendResult _send(object coro) except? PYGEN_ERROR:
    """``coro.send(None)``: PYGEN_RETURN when it ran to its end, PYGEN_NEXT when it
    suspended; an exception out of it propagates."""
    cdef PyObject* res = NULL
    cdef PySendResult r = PyIter_Send(<PyObject*>coro, <PyObject*>None, &res)
    Py_XDECREF(res)
    return r


cdef inline bint is_book_type(uint8_t t) noexcept nogil:
    return (t == 0x41 or t == 0x46 or t == 0x45 or t == 0x43 or t == 0x58 or t == 0x44
            or t == 0x55)


# -- the compiled simulated venue ------------------------------------------------------------
cdef class CSimOrder:
    """One of our orders resting at the compiled venue (:class:`CVenue`): the fields of
    :class:`tickwire.engine.backtest.venue.SimOrder`, typed (``sd``: 0 buy, 1 sell)."""

    cdef public int64_t user_ref_num
    cdef public int locate
    cdef public str symbol
    cdef public str side
    cdef public int64_t price
    cdef public int64_t open
    cdef public object tif
    cdef public int64_t seq
    cdef public int64_t order_reference_number
    cdef public int64_t chain_filled
    cdef public int64_t ahead
    cdef public int64_t joined_ahead
    cdef public set ahead_refs
    cdef public str entered_side  # the Enter's side byte (B, S, T, E): Order Replaced's
    cdef public int64_t expires  # a GTT order's deadline (venue ns); 0: none (SimOrder's)
    cdef public str capacity  # the Enter's Capacity and Cross Type: every Order Replaced
    cdef public str cross_type  # of the chain repeats them (SimOrder's)
    cdef public bint hidden  # Display N: no place in the queue at its price (SimOrder's)
    cdef readonly uint8_t sd

    def __init__(self, int64_t user_ref_num, int locate, str symbol, str side, int64_t price,
                 int64_t open, tif, int64_t seq, int64_t order_reference_number,
                 int64_t chain_filled=0, str entered_side="", str capacity="",
                 str cross_type=""):
        self.user_ref_num = user_ref_num
        self.locate = locate
        self.symbol = symbol
        self.side = side
        self.sd = 0 if side == "B" else 1
        self.price = price
        self.open = open
        self.tif = tif
        self.seq = seq
        self.order_reference_number = order_reference_number
        self.chain_filled = chain_filled
        self.ahead = 0
        self.joined_ahead = 0
        self.ahead_refs = set()
        self.entered_side = entered_side
        self.expires = 0
        self.capacity = capacity
        self.cross_type = cross_type
        self.hidden = False

    def __repr__(self):
        return (f"CSimOrder(user_ref_num={self.user_ref_num}, symbol={self.symbol!r}, "
                f"side={self.side!r}, price={self.price}, open={self.open}, "
                f"ahead={self.ahead})")


cdef inline bint _first(CSimOrder a, CSimOrder b, uint8_t sd) noexcept:
    """Is ``a`` before ``b`` in price, display, time priority on side ``sd``
    (``SimulatedVenue._priority``: at one price the displayed before the hidden)?"""
    if a.price != b.price:
        return a.price > b.price if sd == 0 else a.price < b.price
    if a.hidden != b.hidden:
        return b.hidden
    return a.seq < b.seq


cdef class CVenue:
    """:class:`tickwire.engine.backtest.venue.SimulatedVenue` (the oracle: its module
    docstring has the rules) compiled, for the compiled replay core (:class:`ReplayCore`).

    The same rules, outputs and inspection (``fills``, ``_live``, ``_by_locate``,
    ``_consumed``, ``live_orders()``, ``queue_ahead()``), with two differences of means,
    not of result: market data comes as the ITCH message's bytes (:meth:`market`, before
    the venue's book applies it), read straight from the wire, and the queue at a price
    (an order's FIFO place on arrival, what an arriving order takes) is read from the
    compiled book's levels and FIFO lists, with no :class:`OrderInfo` per feed order.
    ``version`` moves whenever an order rests or leaves: ReplayCore's venue filter
    refreshes what it caches (where we rest, our best prices) only then, and asks
    :meth:`is_ahead` for the queues ahead.

    Built by :func:`tickwire.engine.backtest.venue.compiled_venue`; held to the reference
    by the differential tests of ``test_engine_backtest_core.py`` (every report equal),
    by ``test_engine_backtest_cvenue.py`` (random ITCH and raw OUCH, both venues compared
    after every message) and by ``test_engine_backtest_queue.py``, which runs its
    hand-built flows on both."""

    cdef public CBookManager books
    cdef public object respond
    cdef public list fills
    cdef public dict _live, _by_locate, _consumed
    cdef public int64_t _last_ref, _seq, _match, now
    cdef public int64_t version
    cdef object Fill, executed, accepted, replaced, canceled, rejected
    cdef object EnterOrder, ReplaceOrder, CancelOrder, DAY, IOC, reasons, encode
    # OUCH 5.0's Quantity and Price limits, given by ``compiled_venue`` from the one table
    # (``tickwire.ouch.v50.MAX_QUANTITY``/``MAX_PRICE``) rather than restated here as
    # literals that could drift from the Python venue's (``test_engine_ouch_limits.py``).
    cdef readonly object max_quantity, max_price
    # OUCH 5.0's Time In Force rule (``tickwire.ouch.v50.time_in_force_error``), asked of
    # any byte but Day and IOC: the one statement of it, as the Python venue's _validate.
    cdef object tif_error
    # Order Canceled reason ``T`` (``tickwire.ouch.v50.CANCELED_TIMEOUT``), given by
    # ``compiled_venue``: one name for both venues and the simulated exchange.
    cdef str timeout
    # GTT expiry (``SimulatedVenue.expire``, the rule): ``wake`` (the loop's, called with
    # a deadline when a GTT order rests), GTT's byte, ``venue.gtt_deadline`` (the one
    # statement of a deadline), and the (deadline, seq, UserRefNum) heap of resting GTT
    # orders.
    cdef public object wake
    cdef object GTT, gtt_deadline
    # OUCH 5.0's Cross Type rule (``tickwire.ouch.v50.cross_type_reason``: not ``N``,
    # 0x14), asked of an Enter after _validate: the one statement of it, given by
    # ``compiled_venue``, as the Python venue's _enter.
    cdef object cross_reason
    # OUCH 5.0's Display and MinQty rule (``tickwire.engine.backtest.venue.order_terms_reason``,
    # of ``tickwire.ouch.v50.order_terms_reason``: 0x03, 0x0D), asked by _validate after
    # the Time In Force, as the Python venue's _validate.
    cdef object terms_reason
    # OUCH 5.0's Display byte of a hidden order (``N``, ``venue.hidden``), given by
    # ``compiled_venue``: such an order has no place in the queue at its price.
    cdef object HIDDEN
    # Our fills' Liquidity Flags, ``A`` (passive, displayed), ``J`` (passive, hidden) and
    # ``R`` (on arrival): ``venue.LIQUIDITY_FLAGS``, given by ``compiled_venue``
    # (``venue.liquidity_flag``'s rule).
    cdef str ADDED, ADDED_HIDDEN, REMOVED
    cdef public object _deadlines
    cdef list _deadline_heap

    def __init__(self, CBookManager books, respond, fill, order_accepted, order_replaced,
                 order_canceled, order_executed, rejected, enter_order, replace_order,
                 cancel_order, day, ioc, reject_reason, encode, max_quantity, max_price,
                 tif_error, str timeout, wake=None, gtt=None, gtt_deadline=None,
                 cross_reason=None, terms_reason=None, hidden_display=None,
                 liquidity_flags=None):
        self.books = books
        books.held_to = self  # what the book applies from its reorder window (held)
        self.respond = respond
        self.fills = []
        self._live = {}
        self._by_locate = {}
        self._consumed = {}
        self._last_ref = self._seq = self._match = self.now = 0
        self.version = 0
        self.Fill = fill
        self.accepted = order_accepted
        self.replaced = order_replaced
        self.canceled = order_canceled
        self.executed = order_executed
        self.rejected = rejected
        self.EnterOrder = enter_order
        self.ReplaceOrder = replace_order
        self.CancelOrder = cancel_order
        self.DAY = day
        self.IOC = ioc
        self.reasons = reject_reason
        self.encode = encode
        self.max_quantity = max_quantity
        self.max_price = max_price
        self.tif_error = tif_error
        self.timeout = timeout
        self.wake = wake
        self.GTT = gtt
        self.gtt_deadline = gtt_deadline
        if cross_reason is None:
            raise TypeError("CVenue: cross_reason (tickwire.ouch.v50.cross_type_reason) is needed")
        self.cross_reason = cross_reason
        if terms_reason is None:
            raise TypeError("CVenue: terms_reason (venue.order_terms_reason) is needed")
        self.terms_reason = terms_reason
        if hidden_display is None:
            raise TypeError("CVenue: hidden_display (v50.Display.HIDDEN) is needed")
        self.HIDDEN = hidden_display
        if liquidity_flags is None:
            raise TypeError("CVenue: liquidity_flags (venue.LIQUIDITY_FLAGS) is needed")
        self.ADDED, self.ADDED_HIDDEN, self.REMOVED = liquidity_flags
        self._deadlines = Deadlines()  # of resting GTT orders, by UserRefNum
        self._deadline_heap = self._deadlines.heap  # the hot loops' cheap test

    # -- helpers ------------------------------------------------------------------------
    cdef object _locate_of(self, str symbol):
        """The locate of ``symbol``'s book (``SimulatedVenue._locate_of``'s rule): None
        for none (``book.book_locate``: one a directory renamed has none)."""
        return book_locate(self.books.locates, symbol)

    cdef int _fill(self, CSimOrder o, int64_t qty, int64_t price, bint passive,
                   str cause) except -1:
        self._match += 1
        o.open -= qty
        o.chain_filled += qty
        if not passive:  # venue.liquidity_flag's rule
            flag = self.REMOVED
        elif o.hidden:
            flag = self.ADDED_HIDDEN
        else:
            flag = self.ADDED
        self.fills.append(self.Fill(self.now, o.user_ref_num, o.symbol, o.side, qty, price,
                                    flag, self._match, cause,
                                    o.joined_ahead if passive else 0))
        self.respond(self.executed(self.now, o.user_ref_num, qty, price, flag, self._match))
        if o.open == 0:
            self._unrest(o)
        return 0

    cdef int _unrest(self, CSimOrder o) except -1:
        self._live.pop(o.user_ref_num, None)
        if o.expires:  # its deadline goes with it (SimulatedVenue._unrest)
            self._deadlines.discard(o.user_ref_num)
        lst = self._by_locate.get(o.locate)
        if lst is not None and o in lst:
            lst.remove(o)
            if not lst:
                del self._by_locate[o.locate]
            self.version += 1
        return 0

    cdef int _rest(self, CSimOrder o) except -1:
        """Rest ``o``: its queue ahead is the level at its price now, read from the C book
        (the shares and the references of the orders in its FIFO list)."""
        cdef CBookManager mgr = self.books
        cdef int32_t bi = mgr.book_of[o.locate]
        cdef CSide* s
        cdef Py_ssize_t pos
        cdef uint32_t key
        cdef int32_t oi
        cdef int64_t total = 0
        cdef set refs
        if bi >= 0 and 0 < o.price <= 0xFFFFFFFF:
            s = &mgr.cbooks[bi].side[o.sd]
            key = side_key(o.sd, <uint32_t>o.price)
            pos = lower_bound(s, key)
            if pos < s.n and s.keys[pos] == key:
                refs = set()
                oi = mgr.levels_[s.lv[pos]].head
                while oi >= 0:
                    total += mgr.orders_[oi].shares
                    refs.add(mgr.orders_[oi].ref)
                    oi = mgr.orders_[oi].next
                if refs:
                    o.ahead = o.joined_ahead = total
                    o.ahead_refs = refs
        self._live[o.user_ref_num] = o
        lst = self._by_locate.get(o.locate)
        if lst is None:
            self._by_locate[o.locate] = [o]
        else:
            lst.append(o)
        self.version += 1
        if o.expires:  # a GTT order: its deadline (expire)
            self._deadlines.set(o.user_ref_num, o.expires)
            self._wake()
        return 0

    cdef int _wake(self) except -1:
        """``SimulatedVenue._wake``: the loop wakes the venue at its earliest live
        deadline, unless a wake asked for before comes first (``Deadlines.wake_at``)."""
        if self.wake is not None:
            at = self._deadlines.wake_at(self.now, self._live.__contains__)
            if at is not None:
                self.wake(at)
        return 0

    cdef list _priority(self, list orders, uint8_t sd):
        """Our orders of side ``sd`` in price, display, time priority (``_first``; an
        insertion sort: a locate has few of ours)."""
        cdef list mine = []
        cdef CSimOrder o, p
        cdef Py_ssize_t i, j, n
        for o in orders:
            if o.sd == sd:
                mine.append(o)
        n = len(mine)
        for i in range(1, n):
            o = mine[i]
            j = i - 1
            while j >= 0:
                p = mine[j]
                if not _first(o, p, sd):
                    break
                mine[j + 1] = p
                j -= 1
            mine[j + 1] = o
        return mine

    cdef bint is_ahead(self, int loc, uint64_t ref) except -1:
        """Is feed order ``ref`` ahead of one of our orders resting at ``loc`` (what a
        cancel, delete or replace of it at ``loc`` would work on)?"""
        cdef CSimOrder o
        rest = self._by_locate.get(loc)
        if not rest:
            return False
        key = ref
        for o in rest:
            if o.ahead_refs and key in o.ahead_refs:
                return True
        return False

    # -- market data (call before the venue book applies the message) ---------------------
    def on_market(self, msg, int64_t t):
        """``SimulatedVenue.on_market`` for a decoded ITCH message (encoded, then
        :meth:`market`): the entry of the hand-built flows' tests."""
        self.on_frame(self.encode(msg), t)

    def on_frame(self, bytes msg, int64_t t):
        """:meth:`market` for one message's bytes (type byte first)."""
        if PyBytes_GET_SIZE(msg) < 1 or PyBytes_GET_SIZE(msg) < LENGTHS[<uint8_t>msg[0]]:
            raise ValueError("not a whole ITCH message")
        self.market(<const uint8_t*>PyBytes_AS_STRING(msg), t)

    cdef int market(self, const uint8_t* m, int64_t t) except -1:
        """Let one ITCH message (its bytes) work on our resting orders, before the venue's
        book applies it: ``SimulatedVenue.on_market``."""
        cdef uint8_t ty = m[0]
        cdef uint8_t ind
        cdef int32_t oi
        self.now = t
        if self._deadline_heap and self._deadline_heap[0][0] <= t:
            self._expire(t)  # what is due first (SimulatedVenue.on_market)
        if ty == 0x53:
            if m[S_CODE] == 0x4D:  # end of market hours: Day orders expire
                self._expire_day_orders()
            elif m[S_CODE] == 0x45:  # end of system hours: every order left expires
                self._expire_all_orders()
            return 0
        if ty == 0x52:  # a Stock Directory: ours in a book no longer their symbol's end
            if self._live:
                self._directory(rd16(m + L_LOCATE), PyBytes_FromStringAndSize(
                    <const char*>(m + R_STOCK), 8).decode("latin-1").rstrip(" "))
            return 0
        if not is_book_type(ty) and ty != 0x50:
            return 0  # only book messages and trades act on our orders or _consumed
        if not self._by_locate and not self._consumed:
            return 0  # nothing of ours rests and we took from no feed order
        if ty == 0x45:
            self._named(ty, rd64(m + E_REF), rd32(m + E_SHARES), 0, 0, False)
        elif ty == 0x43:  # not printable Y: a cross's execution (SimulatedVenue._passive)
            self._named(ty, rd64(m + C_REF), rd32(m + C_SHARES), 0, 0,
                        m[C_PRINTABLE] != 0x59)
        elif ty == 0x58:
            self._named(ty, rd64(m + X_REF), rd32(m + X_SHARES), 0, 0, False)
        elif ty == 0x44:
            self._named(ty, rd64(m + D_REF), 0, 0, 0, False)
        elif ty == 0x55:
            self._named(ty, rd64(m + U_OLD), rd32(m + U_SHARES), rd64(m + U_NEW),
                        rd32(m + U_PRICE), False)
        elif ty == 0x41 or ty == 0x46:
            oi = self.books._find(rd64(m + A_REF))
            if oi >= 0:  # the book evicts it (duplicate_references)
                self._gone(oi)
            ind = m[A_SIDE]
            if ind == 0x42 or ind == 0x53:  # else no order (the book's docs)
                rest = self._by_locate.get(rd16(m + L_LOCATE))
                if rest:
                    self._crossing(rest, 0 if ind == 0x42 else 1, rd32(m + A_PRICE),
                                   rd32(m + A_SHARES), rd64(m + A_REF), rd16(m + L_LOCATE))
        elif ty == 0x50:
            rest = self._by_locate.get(rd16(m + L_LOCATE))
            if rest:
                self._through(rest, rd32(m + P_PRICE), rd32(m + P_SHARES))
        return 0

    def held(self, tuple m):
        """A message the venue's book held in its reorder window, applied now that its
        order was added (``CBookManager._resolve`` calls this just before applying it,
        ``held_to``): it works on our orders as on arrival (``SimulatedVenue._held``,
        the rule). ``m``: the book's held tuple, kind first."""
        cdef int kind = m[0]
        if not self._by_locate and not self._consumed:
            return
        if kind == 0x45 or kind == 0x58:
            self._named(kind, m[1], m[2], 0, 0, False)
        elif kind == 0x43:  # m[5]: its Printable (a cross's execution unless Y)
            self._named(kind, m[1], m[2], 0, 0, m[5] != 0x59)
        elif kind == 0x44:
            self._named(kind, m[1], 0, 0, 0, False)
        else:
            self._named(0x55, m[1], m[3], m[2], m[4], False)

    cdef int _named(self, uint8_t ty, uint64_t ref, int64_t n, uint64_t nref,
                    int64_t price, bint cross) except -1:
        """An E, C, X, D or U naming feed order ``ref`` (``n``: the shares executed,
        cancelled or, for U, the new order's; ``nref`` and ``price``: a replace's new
        order; ``cross``: a C not printable, a cross's execution). It works where that order rests, whatever locate the message carries
        (``SimulatedVenue._gone``'s rule)."""
        cdef int32_t oi = self.books._find(ref)
        cdef COrder* o
        cdef uint8_t ind
        cdef int loc
        if oi >= 0 and self._by_locate:
            o = &self.books.orders_[oi]
            if ty == 0x45 or ty == 0x43:
                rest = self._by_locate.get(self.books.cbooks[o.book].locate)
                if rest:
                    if o.shares < n:
                        n = o.shares
                    self._passive(rest, o.side, o.price, n, ref, n == o.shares, cross)
            elif ty == 0x58:
                rest = self._by_locate.get(self.books.cbooks[o.book].locate)
                if rest:
                    if o.shares < n:
                        n = o.shares
                    self._shrink_queue(rest, ref, o.side, o.price, n, n == o.shares)
            elif ty == 0x44:
                self._gone(oi)
            else:
                ind = o.side
                loc = self.books.cbooks[o.book].locate
                self._gone(oi)
                if nref != ref:
                    oi = self.books._find(nref)
                    if oi >= 0:  # the book evicts it (duplicate_references)
                        self._gone(oi)
                rest = self._by_locate.get(loc)
                if rest:
                    self._crossing(rest, ind, price, n, nref, loc)
        elif oi >= 0 and ty == 0x55 and nref != ref:  # nothing rests: still forget
            oi = self.books._find(nref)
            if oi >= 0:
                self._gone(oi)
        if self._consumed:
            self._forget_consumed(ty, ref, n)
        return 0

    cdef bint _trading(self, int locate) except -1:
        """``SimulatedVenue._trading``: the stock of ``locate`` trades (state ``T`` or
        none; not halted ``H``, paused ``P`` nor quotation only ``Q``)."""
        return self.books.books[locate].trading_state in ("T", "")

    cdef int _gone(self, int32_t oi) except -1:
        """Feed order ``oi`` (the book's index) leaves the book whole:
        ``SimulatedVenue._gone`` (the rule)."""
        cdef COrder* o = &self.books.orders_[oi]
        self._consumed.pop(o.ref, None)
        rest = self._by_locate.get(self.books.cbooks[o.book].locate)
        if rest:
            self._shrink_queue(rest, o.ref, o.side, o.price, o.shares, True)
        return 0

    cdef int _forget_consumed(self, uint8_t ty, uint64_t ref, int64_t reduce) except -1:
        """Keep the shares we took from a feed order within what it still has (an E, C,
        X, D or U naming ``ref``; ``reduce``: the shares an E, C or X takes)."""
        cdef int32_t oi
        cdef int64_t left
        if ty == 0x44 or ty == 0x55:
            self._consumed.pop(ref, None)
            return 0
        key = ref
        taken = self._consumed.get(key)
        if taken is None:
            return 0
        oi = self.books._find(ref)
        left = 0 if oi < 0 else self.books.orders_[oi].shares - reduce
        if left <= 0:
            del self._consumed[key]
        else:
            self._consumed[key] = min(taken, left)
        return 0

    cdef int _passive(self, list rest, uint8_t sd, int64_t price, int64_t executed,
                      uint64_t ref, bint gone, bint cross) except -1:
        """``SimulatedVenue._passive`` (the rules; ``cross``: a cross's execution fills
        nothing, only the queue ahead moves)."""
        cdef int64_t budget = executed, q, use
        cdef CSimOrder o
        cdef bint better
        if cross:
            return self._shrink_queue(rest, ref, sd, price, executed, gone)
        key = ref
        for o in self._priority(rest, sd):
            better = o.price > price if sd == 0 else o.price < price
            if better:
                if budget <= 0:
                    continue
                q = budget if budget < o.open else o.open
                budget -= q
                self._fill(o, q, o.price, True, "execution-through")
            elif o.price == price:
                if key in o.ahead_refs:
                    o.ahead = o.ahead - executed if o.ahead > executed else 0
                    if gone:  # it left the book (SimulatedVenue._passive)
                        o.ahead_refs.discard(key)
                    continue
                if budget <= 0 or o.hidden:  # a hidden order (SimulatedVenue's docs)
                    continue
                use = budget if budget < o.ahead else o.ahead
                o.ahead -= use
                budget -= use
                q = budget if budget < o.open else o.open
                if q > 0:
                    budget -= q
                    self._fill(o, q, o.price, True, "execution")
        return 0

    cdef int _shrink_queue(self, list rest, uint64_t ref, uint8_t sd, int64_t price,
                           int64_t shares, bint gone) except -1:
        cdef CSimOrder o
        key = ref
        for o in rest:
            if o.sd == sd and o.price == price and key in o.ahead_refs:
                o.ahead = o.ahead - shares if o.ahead > shares else 0
                if gone:
                    o.ahead_refs.discard(key)
        return 0

    cdef int _crossing(self, list rest, uint8_t sd, int64_t price, int64_t shares,
                       uint64_t ref, int locate) except -1:
        """An incoming order on ``sd`` at ``price`` in the book of ``locate``: does it
        cross our other-side orders? Only while the stock trades
        (``SimulatedVenue._crossing``, the rule)."""
        cdef int64_t budget = shares, q
        cdef CSimOrder o
        cdef bint crosses
        cdef int trading = -1  # not asked yet
        if price <= 0 or shares <= 0:
            return 0
        key = ref
        consumed = self._consumed
        for o in self._priority(rest, 1 - sd):
            crosses = price <= o.price if sd == 1 else price >= o.price
            if not crosses or budget <= 0:
                break
            if trading < 0:  # asked once, only when something crosses
                trading = self._trading(locate)
            if not trading:
                break
            q = budget if budget < o.open else o.open
            budget -= q
            consumed[key] = consumed.get(key, 0) + q
            self._fill(o, q, o.price, True, "incoming-cross")
        return 0

    cdef int _through(self, list rest, int64_t price, int64_t shares) except -1:
        cdef int64_t budget, q
        cdef CSimOrder o
        cdef uint8_t sd
        cdef bint through
        if price <= 0:
            return 0  # no trade (SimulatedVenue._through)
        for sd in range(2):
            budget = shares
            for o in self._priority(rest, sd):
                through = o.price > price if sd == 0 else o.price < price
                if not through or budget <= 0:
                    break
                q = budget if budget < o.open else o.open
                budget -= q
                self._fill(o, q, o.price, True, "trade-through")
        return 0

    cdef int _expire_day_orders(self) except -1:
        cdef CSimOrder o
        for o in self.live_orders():
            if o.tif == self.DAY:
                self._cancel(o, o.open, self.timeout)
        return 0

    cdef int _directory(self, int locate, str symbol) except -1:
        """A Stock Directory naming ``symbol`` at ``locate``: each order of ours resting in
        a book no longer its symbol's (at ``locate`` for another symbol, or of ``symbol``
        at another locate) is canceled, reason ``Z``
        (``tickwire.ouch.v50.CANCELED_SYSTEM``), oldest first
        (``SimulatedVenue._directory``, the rule and its tests)."""
        cdef CSimOrder o
        for o in self.live_orders():
            if (o.locate == locate) != (o.symbol == symbol):
                self._cancel(o, o.open, "Z")
        return 0

    cdef int _expire_all_orders(self) except -1:
        """End of System Hours: every resting order canceled, reason ``T``, oldest first
        (``SimulatedVenue._expire_all_orders``, the rule and its tests)."""
        cdef CSimOrder o
        for o in self.live_orders():
            self._cancel(o, o.open, self.timeout)
        return 0

    def expire(self, int64_t t):
        """``SimulatedVenue.expire`` (the rule and its tests): every resting GTT order
        whose deadline is at or before ``t`` is canceled, reason ``T``, earliest first."""
        self._expire(t)

    cdef int _expire(self, int64_t t) except -1:
        """:meth:`expire`, called by ReplayCore (and what is due before each message and
        order) without a Python call."""
        cdef CSimOrder o
        self.now = t
        for ref in self._deadlines.due(t, self._live.__contains__):
            o = self._live[ref]
            self._cancel(o, o.open, self.timeout)
        self._wake()  # for the next deadline (SimulatedVenue.expire)
        return 0

    # -- order entry -----------------------------------------------------------------------
    def receive(self, msg, int64_t t):
        """Process one OUCH 5.0 inbound message arriving at exchange time ``t``."""
        self._receive(msg, t)

    cdef int _receive(self, msg, int64_t t) except -1:
        """:meth:`receive`, called by ReplayCore without a Python call (what is due
        expires first: :meth:`expire`)."""
        cdef CSimOrder o
        cdef int64_t cut
        self.now = t
        if self._deadline_heap and self._deadline_heap[0][0] <= t:
            self._expire(t)
        if isinstance(msg, self.EnterOrder):
            self._enter(msg)
        elif isinstance(msg, self.ReplaceOrder):
            self._replace(msg)
        elif isinstance(msg, self.CancelOrder):
            found = self._live.get(msg.user_ref_num)
            if found is not None:  # superfluous cancels are silently ignored (OUCH 5.0 2.3)
                o = found
                cut = o.open - min(o.open, msg.quantity)
                if cut > 0:
                    self._cancel(o, cut, "U")
        return 0

    cdef int _cancel(self, CSimOrder o, int64_t qty, str reason) except -1:
        o.open -= qty
        # OrderCanceled(timestamp, user_ref_num, quantity, reason)
        self.respond(self.canceled(self.now, o.user_ref_num, qty, reason))
        if o.open == 0:
            self._unrest(o)
        return 0

    cdef tuple _validate(self, str symbol, str side, qty, price, tif, appendages, display):
        locate = self._locate_of(symbol)
        reasons = self.reasons
        if locate is None:
            return None, reasons.INVALID_SYMBOL
        if side not in ("B", "S", "T", "E"):
            return None, reasons.INVALID_SIDE
        if not 1 <= qty <= self.max_quantity:
            return None, reasons.INVALID_QUANTITY
        if not 1 <= price <= self.max_price:
            return None, reasons.INVALID_PRICE
        if self.books.system_event != "Q":
            return None, reasons.DESTINATION_CLOSED
        if not self._trading(locate):
            return None, reasons.HALTED
        # A Time In Force not in the table, or GTT without ExpireTime: 0x0F (the Python
        # venue's _validate; Day and IOC, the usual ones, skip the call)
        if tif != self.DAY and tif != self.IOC and self.tif_error(tif, appendages) is not None:
            return None, reasons.OTHER
        # Display not Y, N, A (0x03) or an appendage not run (MinQty 0x0D, MaxFloor 0x04,
        # pegs 0x05, ...: v50.order_terms_reason): the Python venue's _validate; a
        # visible order without appendages, the usual one, skips the call
        if display != "Y" or appendages:
            terms = self.terms_reason(display, qty, appendages)
            if terms is not None:
                return None, terms
        return locate, 0

    cdef int _enter(self, msg) except -1:
        cdef CSimOrder o
        ref = msg.user_ref_num
        if ref <= self._last_ref:
            return 0  # a retransmission: ignored (OUCH 5.0 1.2)
        self._last_ref = ref
        symbol = msg.symbol
        side = msg.side
        quantity = msg.quantity
        price = msg.price
        tif = msg.time_in_force
        locate, reason = self._validate(symbol, side, quantity, price, tif, msg.appendages,
                                        msg.display)
        if locate is not None:  # the Enter's Cross Type, last (the Python venue's _enter)
            cross = self.cross_reason(msg.cross_type)
            if cross is not None:
                locate, reason = None, cross
        if locate is None:
            # Rejected(timestamp, user_ref_num, reason, cl_ord_id)
            self.respond(self.rejected(self.now, ref, reason, msg.cl_ord_id))
            return 0
        self._seq += 1
        o = CSimOrder(ref, locate, symbol, "B" if side == "B" else "S", price, quantity, tif,
                      self._seq, _OWN_REF_BASE + self._seq, 0, side, msg.capacity,
                      msg.cross_type)
        o.hidden = msg.display == self.HIDDEN
        if tif == self.GTT:
            o.expires = self.gtt_deadline(self.now, msg.appendages)
        # The answers are built by position (the class's field order, named on each line):
        # no keyword dict to build and match (issue #16).
        self.respond(
            self.accepted(
                self.now,  # timestamp
                ref,  # user_ref_num
                side,
                quantity,
                symbol,
                price,
                tif,  # time_in_force
                msg.display,
                o.order_reference_number,
                msg.capacity,
                msg.intermarket_sweep_eligibility,
                msg.cross_type,
                "L",  # order_state
                msg.cl_ord_id,
                msg.appendages,  # repeated, as the venue's (and the exchange's) answer
            )
        )
        self._arrive(o)
        return 0

    cdef int _arrive(self, CSimOrder o) except -1:
        """Execute what is marketable against displayed liquidity (the other side's levels
        through our price, best first, each level's FIFO list in order, read from the C
        book), then rest or cancel."""
        cdef CBookManager mgr = self.books
        cdef int32_t bi = mgr.book_of[o.locate]
        cdef uint8_t other = 1 - o.sd
        cdef CSide* s
        cdef Py_ssize_t i
        cdef uint32_t price
        cdef int32_t oi
        cdef int64_t avail, q
        if bi < 0:
            raise KeyError(o.locate)  # as the reference's books[locate]: never validated
        s = &mgr.cbooks[bi].side[other]
        i = s.n - 1
        consumed = self._consumed
        while i >= 0 and o.open > 0:
            price = mgr.levels_[s.lv[i]].price
            if (other == 0 and price < o.price) or (other == 1 and price > o.price):
                break
            oi = mgr.levels_[s.lv[i]].head
            while oi >= 0:
                key = mgr.orders_[oi].ref
                taken = consumed.get(key)
                avail = mgr.orders_[oi].shares - (0 if taken is None else <int64_t>taken)
                oi = mgr.orders_[oi].next
                if avail <= 0:
                    continue
                q = avail if avail < o.open else o.open
                if taken is None:
                    consumed[key] = q
                else:
                    consumed[key] = taken + q
                self._fill(o, q, price, False, "arrival")
                if o.open == 0:
                    break
            i -= 1
        if o.open == 0:
            return 0
        if o.tif == self.IOC:
            self.respond(self.canceled(self.now, o.user_ref_num, o.open, "I"))
            o.open = 0
            return 0
        self._rest(o)
        return 0

    cdef int _replace(self, msg) except -1:
        cdef CSimOrder old, o
        cdef int64_t exposed
        found = self._live.get(msg.orig_user_ref_num)
        ref = msg.user_ref_num
        if found is None or ref <= self._last_ref:
            return 0  # silently ignored (OUCH 5.0 2.2, case 1; 1.2)
        old = found
        quantity = msg.quantity
        price = msg.price
        locate, _ = self._validate(old.symbol, old.side, quantity, price, msg.time_in_force,
                                   msg.appendages, msg.display)
        if locate is None:
            # Invalid details: the existing order is taken out of the book (case 2), and
            # the replacement's UserRefNum is not consumed (as the venue's _replace).
            self._cancel(old, old.open, "Z")
            return 0
        self._last_ref = ref
        self._unrest(old)
        self._seq += 1
        exposed = quantity - old.chain_filled
        if exposed < 0:
            exposed = 0
        tif = msg.time_in_force
        o = CSimOrder(ref, old.locate, old.symbol, old.side, price, exposed, tif,
                      self._seq, _OWN_REF_BASE + self._seq, old.chain_filled,
                      old.entered_side, old.capacity, old.cross_type)
        o.hidden = msg.display == self.HIDDEN
        if tif == self.GTT:
            o.expires = self.gtt_deadline(self.now, msg.appendages)
        self.respond(
            self.replaced(  # by position, as the accepted one in _enter
                self.now,  # timestamp
                old.user_ref_num,  # orig_user_ref_num
                o.user_ref_num,
                old.entered_side,  # side: the Enter's byte (T, E too), as the venue's
                exposed,  # quantity
                old.symbol,
                price,
                tif,  # time_in_force
                msg.display,
                o.order_reference_number,
                old.capacity,  # the Enter's: a Replace carries none (SimOrder's)
                msg.intermarket_sweep_eligibility,
                old.cross_type,
                "L" if exposed > 0 else "D",  # order_state
                msg.cl_ord_id,
                msg.appendages,
            )
        )
        if exposed > 0:
            self._arrive(o)  # a replace gets a new timestamp: it joins the back of the queue
        return 0

    # -- inspection ---------------------------------------------------------------------------
    def live_orders(self):
        """Our resting orders, in arrival order."""
        return sorted(self._live.values(), key=_seq_of)

    def queue_ahead(self, user_ref_num):
        """Shares still ahead of our resting order ``user_ref_num`` at its price."""
        return self._live[user_ref_num].ahead


def _seq_of(CSimOrder o):
    return o.seq


cdef dict _plain_attributes(object obj, tuple names):
    """``obj.__dict__``, where ReplayCore reads and writes ``names`` on its hot path (the
    runner's clocks before and after each Python call and in each order sent, its
    ``_finished`` and ``_fills_seen`` after each callback and venue event): a dict item
    is what the attribute is when ``type(obj)`` defines no such name (no property, no
    slot, no class value: refused here), without the attribute protocol's type lookups;
    ~0.07 us a delivery, 9% of workload a's ``BboFloor`` row (issue #16). Every backtest
    of the core goes through it (test_engine_backtest_core.py)."""
    for name in names:
        if hasattr(type(obj), name):
            raise TypeError(f"{type(obj).__name__}.{name}: not a plain instance attribute")
    attrs = getattr(obj, "__dict__", None)
    if type(attrs) is not dict:
        raise TypeError(f"{type(obj).__name__}: no instance __dict__")
    for name in names:
        if name not in attrs:
            raise TypeError(f"{type(obj).__name__}.{name}: not set")
    return attrs


cdef int64_t _OWN_REF_BASE = 0x1000000000000000  # the reference venue's: far above the feed's numbers


cdef class ReplayCore:
    """The backtest's event loop over ITCH bytes, for :mod:`tickwire.engine.backtest.core`.

    It runs the reference runner's loop (:mod:`tickwire.engine.backtest.runner`) with the
    same rule for simultaneous events, on two compiled books (the venue's, at exchange
    time, and the strategy's, at strategy time) and a ring of the messages in flight to
    the strategy (their bytes, not objects). Python (``runner``: the reference runner's
    objects) runs only where the reference would run code that can change something
    beyond the books:

    * the venue's queue model, for a message of a locate where our orders rest, one that
      names a feed order we took shares from, and the system events (Day expiry): the
      compiled venue (:class:`CVenue`, given the bytes) when the runner has it, as it
      does for this core, else the runner's venue's ``on_market`` (a decoded message);
    * scheduled events (order arrivals, venue answers, timers) wait in C (``hp``, a binary
      heap keyed (time, kind, seq) as the runner's ``heapq`` tuples: ``heap_less``); what
      one causes is Python: the venue's ``receive``, the order manager's ``on_message``
      and the strategy's ``on_timer``, with the runner's accounting;
    * deliveries the strategy consumes (``route``), and every administrative message;
    * the PnL samples, every ``pnl_sample_every`` messages.

    Everything else (most messages of the day) is two book updates and a ring push in C.
    Before Python runs, the clocks it reads (``now``, ``exchange_now``, the trigger time)
    are written to the runner, and read back after.
    """

    cdef CBookManager vb, sb
    cdef CVenue cvenue       # the runner's venue when compiled (CVenue), else None
    cdef int64_t venue_version  # cvenue.version when _after_venue last looked
    cdef object runner, venue, ctx, consumed, by_locate, feed_sample, progress
    cdef object deliver_py, on_market, record_fills, sample
    cdef object set_reference, fills
    cdef dict marks  # risk's marks (Ledger.marks): what _mark compares the mid with
    cdef list prints
    cdef object on_book, drive  # the BBO fast path (_bbo_call)
    cdef SlotsConstructor book_update
    cdef dict last_seen
    cdef bint measure  # the runner times callbacks: its _drive drives them
    cdef dict rdict    # the runner's __dict__: its clocks and _finished (_plain_attributes)
    cdef dict locates  # the context's locates (the same dict, never rebound)
    cdef int64_t now, exchange_now, trigger_ts, last_feed, feed_const, heap_top
    cdef int64_t count, sample_every, pending_progress, fills_seen
    cdef FeedItem* q
    cdef Py_ssize_t qhead, qlen, qcap
    cdef uint8_t vflag[65536]
    cdef int64_t vbid[65536]      # our best resting buy price per locate (-1: none)
    cdef int64_t vask[65536]      # our best resting sell price per locate (INT64_MAX: none)
    cdef object ahead             # every feed order ahead of one of ours (a superset)
    cdef uint8_t route[65536]
    cdef RecLast lastq[65536]
    cdef list flagged
    cdef int64_t sub_gen     # the context's generation the routes were computed at
    cdef Py_ssize_t n_locates, n_books
    cdef bint routes_stale
    cdef dict waiting        # symbol -> locates routed to Python until the context knows it
    cdef public int64_t route_updates  # locates whose route was computed (start-up: linear)
    cdef Decl decl[65536]    # per filtered locate, its declaration (_route)
    cdef bint book_calls     # on_book is the strategy's own (else the base no-op)
    cdef bint trade_calls    # on_trade is the strategy's own (else the base no-op)
    cdef int64_t** dlast     # book="depth": per locate, its capacity in int64s, then the top
                             # levels the context last saw (layout: _top_of; -1 levels: none)
    cdef int64_t* dnow       # the top levels now (room for dnow_depth)
    cdef int32_t dnow_depth
    cdef public int64_t python_deliveries, python_venue, c_deliveries
    cdef public int64_t counted_events  # events of base no-op callbacks, never called
    # The scheduled events (the reference runner's heap, in C: _hpush, _hpop) and what
    # scheduling them reads and writes (the runner's _send, _respond, _pin and
    # _forget_finished, in C: send, respond, _pin, _forget_finished).
    cdef HeapItem* hp
    cdef Py_ssize_t hn, hcap
    cdef int64_t seq, order_const, ack_const, last_arrival, last_response, last_sent_ref
    cdef int64_t first_ref
    cdef object order_sample, ack_sample, manager, strategy
    # The runner's and its result's dicts and list, and the bound methods of its objects,
    # held once (none is ever rebound): typed, Cython reads and writes them with the
    # dict and list C API, not an attribute lookup and a method call each (issue #16).
    cdef dict sent_at, pins, updates, rejects, live
    cdef list pending_updates
    cdef object tick_append, ack_append, forget, put_row, on_message
    cdef object order_row, timer_event
    cdef object deliver_updates, saved_schedule
    cdef object ReplaceOrder, OrderReplaced, Rejected

    def __cinit__(self):
        self.hp = NULL
        self.hn = 0
        self.q = NULL
        self.dlast = NULL
        self.dnow = NULL
        self.dnow_depth = 0

    def __init__(self, runner, CBookManager vbooks, CBookManager sbooks, int64_t feed_const,
                 feed_sample, int64_t sample_every, progress, bint book_calls=True,
                 bint trade_calls=True, on_book=None, book_update=None,
                 int64_t order_const=-1, int64_t ack_const=-1):
        cdef int i
        self.runner = runner
        self.rdict = _plain_attributes(
            runner, ("now", "exchange_now", "_trigger_ts", "_finished", "_fills_seen")
        )
        self.locates = runner.ctx.locates
        self.vb = vbooks
        self.sb = sbooks
        self.venue = runner.venue
        self.cvenue = runner.venue if isinstance(runner.venue, CVenue) else None
        self.venue_version = -1
        self.ctx = runner.ctx
        self.consumed = self.venue._consumed
        self.by_locate = self.venue._by_locate
        self.fills = self.venue.fills
        self.feed_const = feed_const
        self.feed_sample = feed_sample
        self.sample_every = sample_every
        self.progress = progress
        self.deliver_py = runner._deliver
        self.on_market = None if self.cvenue is not None else self.venue.on_market
        self.record_fills = runner._record_fills
        self.sample = runner._sample_now
        self.set_reference = self.ctx.orders.risk.set_reference
        self.marks = self.ctx.orders.risk.ledger.marks  # taken again: _after_strategy
        self.prints = runner.prints
        self.book_calls = book_calls
        self.trade_calls = trade_calls
        # The strategy's bound on_book and the BookUpdate constructor: with both, a BBO
        # change of a book="bbo" locate is delivered by _bbo_call, not the context.
        self.on_book = on_book
        if book_update is not None and (<SlotsConstructor?>book_update).n != 6:
            raise TypeError("book_update: expected BookUpdate's six-field constructor")
        self.book_update = book_update
        self.drive = runner._drive
        self.measure = runner.measure
        self.last_seen = self.ctx.last_seen
        self.counted_events = 0
        self.qcap = 1 << 10
        self.q = <FeedItem*>malloc(self.qcap * sizeof(FeedItem))
        if self.q == NULL:
            raise MemoryError()
        self.qhead = self.qlen = 0
        memset(self.vflag, 0, sizeof(self.vflag))
        for i in range(65536):
            self.vbid[i] = -1
            self.vask[i] = TW_INT64_MAX
        self.ahead = set()
        memset(self.route, ROUTE_PY, sizeof(self.route))
        memset(self.lastq, 0, sizeof(self.lastq))
        self.flagged = []
        self.sub_gen = -1
        self.n_locates = -1
        self.n_books = -1
        self.routes_stale = True
        self.waiting = {}
        self.route_updates = 0
        self.count = self.pending_progress = 0
        self.python_deliveries = self.python_venue = self.c_deliveries = 0
        self._take_heap(order_const, ack_const)
        self._pull()

    cdef int _take_heap(self, int64_t order_const, int64_t ack_const) except -1:
        """Take the runner's scheduling over: the events on its heap (what ``on_start``
        scheduled) move to the C heap with their seq, and the order manager's ``send``,
        the venue's ``respond`` and the context's timers are this core's until
        :meth:`_give_heap_back`."""
        from tickwire.engine.backtest.runner import _order_row
        from tickwire.engine.strategy.api import TimerEvent
        from tickwire.ouch import v50

        runner = self.runner
        self.hcap = 1 << 8
        self.heap_top = TW_INT64_MAX
        self.hp = <HeapItem*>malloc(self.hcap * sizeof(HeapItem))
        if self.hp == NULL:
            raise MemoryError()
        self.order_const = order_const
        self.ack_const = ack_const
        self.order_sample = runner.order_lat.sample
        self.ack_sample = runner.ack_lat.sample
        self.manager = runner.manager
        self.strategy = runner.strategy
        self.sent_at = runner._sent_at
        self.pins = runner._pins
        self.live = self.venue._live
        self.pending_updates = runner._updates
        self.tick_append = runner._tick_to_venue.append
        self.ack_append = runner._order_to_ack.append
        self.forget = self.manager.forget
        self.on_message = self.manager.on_message
        self.put_row = runner._orders.put
        self.updates = runner.result.updates
        self.rejects = runner.result.rejects
        self.deliver_updates = runner._deliver_updates
        self.order_row = _order_row
        self.timer_event = TimerEvent
        self.ReplaceOrder = v50.ReplaceOrder
        self.OrderReplaced = v50.OrderReplaced
        self.Rejected = v50.Rejected
        self.first_ref = runner.cfg.first_user_ref_num
        self.last_arrival = runner._last_arrival
        self.last_response = runner._last_response
        self.last_sent_ref = runner._last_sent_ref
        self.seq = runner._seq
        for t, kind, seq, payload in runner._heap:
            self._hinsert(t, kind, seq, payload)
        runner._heap.clear()
        self.manager._send = self.send
        self.venue.respond = self.respond
        self.venue.wake = self.wake
        self.saved_schedule = self.ctx._schedule
        self.ctx._schedule = self.timer
        return 0

    cdef int _give_heap_back(self) except -1:
        """After the drain (the heap is empty): the runner schedules again (``on_stop``
        and :meth:`runner.end <tickwire.engine.backtest.runner._Runner.end>` run there),
        from the clocks and counters this core left."""
        runner = self.runner
        runner._seq = self.seq
        runner._last_arrival = self.last_arrival
        runner._last_response = self.last_response
        runner._last_sent_ref = self.last_sent_ref
        self.manager._send = runner._send
        self.venue.respond = runner._respond
        self.venue.wake = runner._wake
        self.ctx._schedule = self.saved_schedule
        return 0

    # -- the heap -------------------------------------------------------------------------
    cdef int _hinsert(self, int64_t t, int64_t kind, int64_t seq, object payload) except -1:
        """Push (t, kind, seq, payload) (a binary heap by heap_less, as heapq's tuples)."""
        cdef HeapItem* nh
        cdef HeapItem item
        cdef Py_ssize_t i, parent
        if self.hn == self.hcap:
            nh = <HeapItem*>realloc(self.hp, 2 * self.hcap * sizeof(HeapItem))
            if nh == NULL:
                raise MemoryError()
            self.hp = nh
            self.hcap *= 2
        item.t = t
        item.kind = kind
        item.seq = seq
        item.payload = <PyObject*>payload
        Py_INCREF(payload)
        i = self.hn
        self.hn += 1
        while i > 0:
            parent = (i - 1) >> 1
            if heap_less(&item, &self.hp[parent]):
                self.hp[i] = self.hp[parent]
                i = parent
            else:
                break
        self.hp[i] = item
        self.heap_top = self.hp[0].t
        return 0

    cdef inline int _hpush(self, int64_t t, int64_t kind, object payload) except -1:
        """The runner's ``push``: the next seq breaks ties in scheduling order."""
        self.seq += 1
        return self._hinsert(t, kind, self.seq, payload)

    cdef HeapItem _hpop(self) noexcept:
        """Pop the least event; its payload's reference passes to the caller."""
        cdef HeapItem top = self.hp[0]
        cdef HeapItem last
        cdef Py_ssize_t i = 0, c, n
        self.hn -= 1
        n = self.hn
        if n == 0:
            self.heap_top = TW_INT64_MAX
            return top
        last = self.hp[n]
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            if c + 1 < n and heap_less(&self.hp[c + 1], &self.hp[c]):
                c += 1
            if heap_less(&self.hp[c], &last):
                self.hp[i] = self.hp[c]
                i = c
            else:
                break
        self.hp[i] = last
        self.heap_top = self.hp[0].t
        return top

    def timer(self, int64_t at, name):
        """The context's ``schedule`` (the runner's ``push(at, _TIMER, name)``)."""
        self._hpush(at, EV_TIMER, name)

    def wake(self, int64_t at):
        """The venue's ``wake`` (the runner's ``_wake``): a GTT order's deadline, when
        the venue expires what is due (``SimulatedVenue.expire``)."""
        self._hpush(at, EV_EXPIRE, None)

    def send(self, msg):
        """The runner's ``_send``: an OUCH message the order manager sends reaches the venue
        one order latency draw later (a constant in C, else the runner's seeded model, in
        the reference's order), never before the one sent before; its tick-to-venue sample,
        its send time (order-to-ack), its pins.

        An arrival after the largest int64 time (an order sent from a timer within one
        latency of it) is at that time, as in the reference (``strategy.api.MAX_TIME_NS``):
        the sum wrapped to a negative time, silently. Test: ``test_engine_backtest_core.py::
        test_engine_backtest_core_times_stop_at_the_largest_int64``."""
        cdef int64_t now, lat, arrive, ref
        cdef dict r = self.rdict
        now = r["now"]
        if self.order_const >= 0:
            lat = self.order_const
        else:
            lat = <int64_t>self.order_sample()
        arrive = now + lat if lat <= TW_INT64_MAX - now else TW_INT64_MAX
        if arrive < self.last_arrival:
            arrive = self.last_arrival
        self.last_arrival = arrive
        self.tick_append(arrive - <int64_t>r["_trigger_ts"])
        ref = getattr(msg, "user_ref_num", 0)
        if ref > self.last_sent_ref:  # an Enter or a Replace: a new UserRefNum
            self.last_sent_ref = ref
            self.sent_at[ref] = now
        self._pin(msg, ref, 1)
        self._hpush(arrive, EV_ARRIVE, msg)

    def respond(self, msg):
        """The runner's ``_respond``: a venue answer reaches the strategy one ack latency
        draw after the venue's time, in order; never after the largest int64 time (as
        :meth:`send`)."""
        cdef int64_t lat, deliver
        if self.ack_const >= 0:
            lat = self.ack_const
        else:
            lat = <int64_t>self.ack_sample()
        deliver = (
            self.exchange_now + lat if lat <= TW_INT64_MAX - self.exchange_now else TW_INT64_MAX
        )
        if deliver < self.last_response:
            deliver = self.last_response
        self.last_response = deliver
        self._pin(msg, getattr(msg, "user_ref_num", 0), 1)
        self._hpush(deliver, EV_RESPOND, msg)

    cdef int _pin_ref(self, int64_t r, int delta) except -1:
        cdef int64_t n
        cdef dict pins = self.pins
        key = r
        n = pins.get(key, 0) + delta
        if n:
            pins[key] = n
        else:
            del pins[key]
            self.rdict["_finished"].append(key)  # runner._finished
        return 0

    cdef int _pin(self, object msg, int64_t ref, int delta) except -1:
        """The runner's ``_pin`` (its comment says the rule; test_engine_backtest_spill.py):
        ``delta`` on the pins of the UserRefNum ``msg`` names (``ref``: the caller has
        read it) and of the original it replaces; an order whose pins reach 0 may be
        finished."""
        cdef int64_t orig = 0
        kind = type(msg)
        if kind is self.ReplaceOrder or kind is self.OrderReplaced:
            orig = msg.orig_user_ref_num
        elif kind is self.Rejected:
            o = self.manager.orders.get(ref)
            if o is not None and o.replaces is not None:
                orig = o.replaces
        if ref:
            self._pin_ref(ref, delta)
        if orig:
            self._pin_ref(orig, delta)
        return 0

    cdef int _forget_finished(self) except -1:
        """The runner's ``_forget_finished``: write the row of each finished order nothing
        can change any more (closed, not resting, unpinned) and forget it."""
        cdef dict r = self.rdict
        cdef dict live = self.live
        cdef dict pins = self.pins
        finished = r["_finished"]
        r["_finished"] = []
        forget = self.forget
        put = self.put_row
        for ref in finished:
            if ref not in pins and ref not in live:
                o = forget(ref)  # None: open, or already forgotten
                if o is not None:
                    put(ref - self.first_ref, self.order_row(o))
        return 0

    def __dealloc__(self):
        cdef int i
        cdef Py_ssize_t k
        for k in range(self.hn):
            Py_DECREF(<object>self.hp[k].payload)
        free(self.hp)
        free(self.q)
        if self.dlast != NULL:
            for i in range(65536):
                free(self.dlast[i])
            free(self.dlast)
        free(self.dnow)

    @property
    def messages(self):
        return self.count

    # -- the runner's clocks ------------------------------------------------------------------
    cdef inline int _push(self) except -1:
        cdef dict r = self.rdict
        r["now"] = self.now
        r["exchange_now"] = self.exchange_now
        r["_trigger_ts"] = self.trigger_ts
        return 0

    cdef int _pull(self) except -1:
        cdef dict r = self.rdict
        self.now = r["now"]
        self.exchange_now = r["exchange_now"]
        self.trigger_ts = r["_trigger_ts"]
        return 0

    cdef int _after_strategy(self) except -1:
        """The strategy may have changed its subscription, or the context and the
        strategy's books may know new symbols and locates, or given risk another ledger
        or marks dict.

        Risk's marks (what :meth:`_mark` compares the mid with) and ``set_reference`` are
        taken again when the marks dict risk holds is not the one held here: a strategy
        may replace ``ctx.orders.risk.ledger`` (or its ``marks``, or ``ctx.orders.risk``)
        and the context's next book message writes the mid into the new one; compared
        with the old dict, the core skipped the write and the collar refused what the
        reference accepted. Test: ``test_engine_backtest_core.py::
        test_engine_backtest_core_a_new_ledger_of_risk_gets_the_mid_as_there``.

        A new subscription or declaration recomputes every route (:meth:`_routes`; the
        context's ``generation`` moves only with a change: a strategy may well call
        ``ctx.subscribe`` with the same list on every callback). New symbols and books
        only touch their own locates: both dicts only grow, in insertion order, so the new
        entries are their last ones; a new book's locate is routed, and a new symbol routes
        the locates that were waiting for it (:meth:`_route`); a directory that moves a
        known symbol to another locate grows neither: :meth:`_deliver` re-routes the book
        it left. So the start-up's directory
        burst (a symbol and a book per message, ~10k on a real day) costs one route each,
        not a pass over every book each (quadratic: seconds on a full day; held by
        ``test_engine_backtest_core_start_up_routes_are_linear``)."""
        cdef Py_ssize_t n
        cdef int64_t generation = self.ctx.generation
        risk = self.manager.risk  # ctx.orders.risk
        if risk.ledger.marks is not self.marks:  # another ledger or marks dict for risk
            self.marks = risk.ledger.marks
            self.set_reference = risk.set_reference
        if generation != self.sub_gen:
            self.routes_stale = True
            return 0
        if self.routes_stale:
            return 0  # every route is recomputed before the next delivery anyway
        locates = self.locates
        books = self.sb.books
        n = len(locates)
        if n != self.n_locates:
            if n < self.n_locates:
                self.routes_stale = True  # not only new entries: start afresh
                return 0
            for symbol in list(islice(reversed(locates), n - self.n_locates)):
                for loc in self.waiting.pop(symbol, ()):
                    self._route(loc, books.get(loc))
                loc = locates[symbol]
                if loc >= 0:  # not NO_BOOK (book.name_locate): never a new entry, but
                    self._route(loc, books.get(loc))  # route[-1] would write outside
            self.n_locates = n
        n = len(books)
        if n != self.n_books:
            if n < self.n_books:
                self.routes_stale = True
                return 0
            for loc, book in list(islice(reversed(books.items()), n - self.n_books)):
                self._route(loc, book)
            self.n_books = n
        return 0

    cdef int _after_venue(self) except -1:
        """Our resting orders may have moved: refresh, per locate, whether we rest there,
        our best buy and sell prices, and the feed orders ahead of ours. With the compiled
        venue, only when its ``version`` says one of those moved."""
        cdef int loc
        if self.cvenue is not None:
            if self.cvenue.version == self.venue_version:
                return 0
            self.venue_version = self.cvenue.version
        for loc in self.flagged:
            self.vflag[loc] = 0
            self.vbid[loc] = -1
            self.vask[loc] = TW_INT64_MAX
        self.flagged = list(self.by_locate)
        if self.cvenue is not None:  # typed; the queues ahead are asked of it (is_ahead)
            for loc, orders in self.by_locate.items():
                self.vflag[loc] = 1
                for co in orders:
                    self._bound(loc, (<CSimOrder>co).sd, (<CSimOrder>co).price)
            return 0
        ahead = set()
        for loc, orders in self.by_locate.items():
            self.vflag[loc] = 1
            for o in orders:
                self._bound(loc, 0 if o.side == "B" else 1, o.price)
                if o.ahead_refs:
                    ahead |= o.ahead_refs
        self.ahead = ahead
        return 0

    cdef inline void _bound(self, int loc, uint8_t sd, int64_t price) noexcept:
        """Our best buy (``vbid``) and sell (``vask``) price at ``loc``, given one of
        our orders."""
        if sd == 0:
            if price > self.vbid[loc]:
                self.vbid[loc] = price
        elif price < self.vask[loc]:
            self.vask[loc] = price

    cdef int _routes(self) except -1:
        """Recompute ``route`` for every locate with a strategy book (:meth:`_route`):
        at the first delivery and after a change of subscription."""
        ctx = self.ctx
        memset(self.route, ROUTE_PY, sizeof(self.route))
        self.waiting = {}
        self.sub_gen = ctx.generation
        for loc, book in self.sb.books.items():
            self._route(loc, book)
        self.n_locates = len(ctx.locates)
        self.n_books = len(self.sb.books)
        self.routes_stale = False
        return 0

    cdef int _route(self, int loc, object book) except -1:
        """Compute ``route[loc]`` from the state now (the feed rule of
        :class:`~tickwire.engine.strategy.context.StrategyContext`, steps 3 to 5): Python
        for a locate with no strategy book, or whose symbol the context does not know
        yet (it learns it at its next message: the locate waits in ``waiting`` for it);
        else in C, skipped outside the subscription or when the book is not its symbol's
        (its symbol's later directory named another locate: ``book.name_locate``, the
        context's step 4), filtered (``decl``) for a declaration other than
        ``book="every"`` with the strategy's own ``on_book``."""
        cdef uint8_t r = ROUTE_PY
        self.route_updates += 1
        if book is not None:
            symbol = book.symbol
            sub = self.ctx.subscribed
            known = self.locates.get(symbol) if symbol else None
            if symbol and known is None:
                self.waiting.setdefault(symbol, []).append(loc)
            elif known is not None and known != loc:
                r = ROUTE_SKIP
            elif sub is not None and symbol not in sub:
                r = ROUTE_SKIP
            elif self._declare(loc, self.ctx.consumes_for(symbol)):
                r = ROUTE_FILTER
        self.route[loc] = r
        # What lastq and dlast cache (the context's BBO or top levels per locate, risk's
        # mark) is only followed while a locate stays filtered: start afresh, the next
        # message counts as a change.
        memset(&self.lastq[loc], 0, sizeof(RecLast))
        if self.dlast != NULL and self.dlast[loc] != NULL:
            self.dlast[loc][1] = -1
        return 0

    cdef bint _declare(self, int loc, object consumes) except -1:
        """Set ``decl[loc]`` from ``consumes``; whether the locate is filtered in C (all
        but ``book="every"`` with the strategy's own ``on_book``, which is called on
        every book message through the context)."""
        cdef Decl* d = &self.decl[loc]
        mode = consumes.book
        d.count_book = False
        d.depth = 0
        d.trades = consumes.trades
        d.count_prints = d.trades and not self.trade_calls
        if mode == "every":
            if self.book_calls:
                d.book = BOOK_EVERY
                return False
            d.book, d.count_book = BOOK_QUIET, True
        elif mode == "bbo":
            d.book = BOOK_BBO
        elif mode == "none":
            d.book = BOOK_QUIET
        else:
            d.book, d.depth = BOOK_DEPTH, consumes.depth
            if self.dlast == NULL:
                self.dlast = <int64_t**>calloc(65536, sizeof(int64_t*))
                if self.dlast == NULL:
                    raise MemoryError()
            if d.depth > self.dnow_depth:
                free(self.dnow)
                self.dnow = <int64_t*>malloc(top_size(d.depth))
                if self.dnow == NULL:
                    raise MemoryError()
                self.dnow_depth = d.depth
            if self.dlast[loc] != NULL:
                self.dlast[loc][1] = -1  # start afresh
        return True

    # -- scheduled events ---------------------------------------------------------------------
    cdef int _heap_event(self) except -1:
        """The runner's ``_heap_event`` on the C heap: pop the least event and run it (an
        arrival at the venue, an answer to the order manager, a timer to the strategy)
        with the runner's accounting, in the reference's order."""
        cdef HeapItem item = self._hpop()
        cdef int64_t t = item.t
        cdef int64_t ref
        cdef dict r = self.rdict
        cdef dict updates
        payload = <object>item.payload
        Py_DECREF(payload)  # the heap's reference: ``payload`` holds its own
        if item.kind == EV_ARRIVE:
            if t > self.exchange_now:
                self.exchange_now = t
            self._push()
            if self.cvenue is not None:
                self.cvenue._receive(payload, self.exchange_now)
            else:
                self.venue.receive(payload, self.exchange_now)
            if len(self.fills) != r["_fills_seen"]:  # runner._fills_seen
                self.record_fills()
            self._pin(payload, getattr(payload, "user_ref_num", 0), -1)
            if r["_finished"]:  # runner._finished
                self._forget_finished()
        elif item.kind == EV_RESPOND:
            if t > self.now:
                self.now = t
            self.trigger_ts = getattr(payload, "timestamp", t)  # the venue's time
            self._push()
            ref = getattr(payload, "user_ref_num", 0)
            sent = self.sent_at.pop(ref, None)
            if sent is not None:  # the first answer about this UserRefNum
                self.ack_append(t - sent)
            kind_name = type(payload).__name__
            updates = self.updates
            updates[kind_name] = updates.get(kind_name, 0) + 1
            if isinstance(payload, self.Rejected):
                key = f"0x{payload.reason:04X}"
                self.rejects[key] = self.rejects.get(key, 0) + 1
            self.on_message(payload)  # the order manager's
            self._pin(payload, ref, -1)
            if self.pending_updates:
                self.deliver_updates()
            if r["_finished"]:  # runner._finished
                self._forget_finished()
        elif item.kind == EV_EXPIRE:  # the runner's _EXPIRE: the venue's GTT deadline
            if t > self.exchange_now:
                self.exchange_now = t
            self._push()
            if self.cvenue is not None:
                self.cvenue._expire(self.exchange_now)
            else:
                self.venue.expire(self.exchange_now)
            if r["_finished"]:  # runner._finished
                self._forget_finished()
        else:
            if t > self.now:
                self.now = t
            self.trigger_ts = t
            self._push()
            self.drive(self.strategy.on_timer(self.timer_event(payload, t)))
        self._pull()
        self._after_venue()
        self._after_strategy()
        return 0

    # -- the strategy's feed ------------------------------------------------------------------
    cdef int _deliver(self) except -1:
        cdef FeedItem* it = &self.q[self.qhead]
        cdef const uint8_t* m = it.data
        cdef uint8_t t = m[0]
        cdef uint16_t loc
        cdef int route
        cdef int64_t ft = it.deliver, ts = it.ts
        self.qhead = (self.qhead + 1) % self.qcap
        self.qlen -= 1
        if ft > self.now:
            self.now = ft
        self.trigger_ts = ts
        if self.routes_stale:
            self._routes()
        loc = self._filed_loc(m, t)
        route = self.route[loc]
        if route != ROUTE_PY:
            if is_book_type(t):
                if route == ROUTE_FILTER:
                    return self._deliver_filtered(m, it.length, t, loc, ft, ts)
                self._apply_quiet(m, it.length)  # its prints are dropped: never build them
                self.c_deliveries += 1
                return 0
            if t == 0x50 or t == 0x51 or t == 0x42:  # tape: changes no book
                if (route == ROUTE_SKIP or not self.decl[loc].trades
                        or self.decl[loc].count_prints):
                    if route == ROUTE_FILTER and self.decl[loc].count_prints:
                        self.counted_events += 1  # one print, never built
                    self.sb._count(t)
                    self.c_deliveries += 1
                    return 0
            elif t != 0x52 and t != 0x48:  # administrative, not a directory or a state
                self.sb._apply_frame(m, it.length)
                self.c_deliveries += 1
                return 0
        if is_book_type(t):  # applied here, from the bytes: the context reads the book after
            self.sb._apply_frame(m, it.length)
            return self._python_applied(None, m, it.length, ft, ts, False, loc)
        self.python_deliveries += 1
        msg = itch_decode(PyBytes_FromStringAndSize(<const char*>m, it.length))
        left = self.locates.get(msg.stock) if t == 0x52 else None
        self._push()
        self.deliver_py(ft, ts, msg)
        self._pull()
        self._after_strategy()
        if t == 0x52 and not self.routes_stale:  # the directory (re)named its book
            self._route(loc, self.sb.books.get(loc))
            if left is not None and left >= 0 and left != loc:  # and its symbol left the
                # book it named (not NO_BOOK: a symbol whose book was renamed has none)
                self._route(left, self.sb.books.get(left))
        return 0

    cdef inline uint16_t _filed_loc(self, const uint8_t* m, uint8_t t) noexcept:
        """The locate of the strategy's book message ``m`` (type ``t``) changes, asked
        before it is applied: for an E, C, X, D or U (by its original) naming an order
        the strategy's book holds, that order's book's, whatever locate ``m`` carries;
        else ``m``'s. ``StrategyContext.market``'s rule (``book.filed_locate``):
        the events and risk's mark go to the stock whose book changed
        (``CBookManager._filed_loc``, the one place the rule is read in C)."""
        return self.sb._filed_loc(m, t)

    cdef int _apply_quiet(self, const uint8_t* m, Py_ssize_t length) except -1:
        """Apply to the strategy's book with no tape prints built (an execution's, or
        one a reordered message releases): where they would be dropped anyway."""
        saved = self.sb.on_print
        self.sb.on_print = None
        try:
            self.sb._apply_frame(m, length)
        finally:
            self.sb.on_print = saved
        return 0

    cdef void _bbo_of(self, uint16_t loc, RecLast* now) noexcept:
        """The strategy's book's BBO of ``loc`` now."""
        cdef CSide* sd
        cdef CLevel* lvl
        cdef int32_t bi = self.sb.book_of[loc]
        memset(now, 0, sizeof(RecLast))
        now.seen = True
        if bi >= 0:
            sd = &self.sb.cbooks[bi].side[0]
            if sd.n:
                lvl = &self.sb.levels_[sd.lv[sd.n - 1]]
                now.bid_ok, now.bid_px, now.bid_sz = True, lvl.price, lvl.shares
            sd = &self.sb.cbooks[bi].side[1]
            if sd.n:
                lvl = &self.sb.levels_[sd.lv[sd.n - 1]]
                now.ask_ok, now.ask_px, now.ask_sz = True, lvl.price, lvl.shares

    cdef Py_ssize_t _top_of(self, uint16_t loc, int32_t depth, int64_t* out) noexcept:
        """The top ``depth`` levels of each side of the strategy's book of ``loc`` now, as
        :meth:`~tickwire.engine.book.OrderBook.top_levels` gives them, into ``out``:
        the bid and ask level counts, then a (price, shares) pair per bid level and per
        ask level, best first. Returns the int64s written: two snapshots are equal exactly
        when their first ``2 + 2 * (bids + asks)`` values are, and a snapshot takes only
        the levels the book has (a deep declaration costs no more than the book)."""
        cdef CSide* sd
        cdef CLevel* lvl
        cdef int32_t bi = self.sb.book_of[loc]
        cdef Py_ssize_t j, k, n = 2
        cdef int side
        out[0] = out[1] = 0
        if bi < 0:
            return n
        for side in range(2):
            sd = &self.sb.cbooks[bi].side[side]
            k = sd.n if sd.n < depth else depth
            out[side] = k
            for j in range(k):
                lvl = &self.sb.levels_[sd.lv[sd.n - 1 - j]]
                out[n] = lvl.price
                out[n + 1] = lvl.shares
                n += 2
        return n

    cdef int _deliver_filtered(self, const uint8_t* m, Py_ssize_t length, uint8_t t,
                               uint16_t loc, int64_t ft, int64_t ts) except -1:
        """A subscribed symbol of a strategy that takes BBO or depth changes (or no book
        events): apply in C, then call Python only for a changed BBO (``bbo``) or top
        levels (``depth``), a new mid for risk (``none``), or prints it takes."""
        cdef RecLast now
        cdef RecLast* last = &self.lastq[loc]
        cdef Decl* d = &self.decl[loc]
        cdef bint changed
        cdef Py_ssize_t used
        cdef int64_t* seen
        prints = self.prints
        if d.trades:
            self.sb._apply_frame(m, length)
        else:
            self._apply_quiet(m, length)
        if d.book == BOOK_DEPTH:
            # Unchanged top levels are an unchanged BBO: no call, and risk's mark stays.
            used = self._top_of(loc, d.depth, self.dnow)
            seen = self.dlast[loc]
            if (seen == NULL or seen[1] != self.dnow[0] or seen[2] != self.dnow[1]
                    or memcmp(self.dnow, seen + 1, used * sizeof(int64_t))
                    or (len(prints) and not d.count_prints)):
                return self._python_applied(None, m, length, ft, ts, True, loc)
            if len(prints):  # on_trade is the base no-op: counted, not called
                self.counted_events += len(prints)
                prints.clear()
            self._bbo_of(loc, &now)
            self._mark_locate(loc, &now)
            self.c_deliveries += 1
            return 0
        self._bbo_of(loc, &now)
        changed = not (last.seen and last.bid_ok == now.bid_ok and last.ask_ok == now.ask_ok
                       and last.bid_px == now.bid_px and last.bid_sz == now.bid_sz
                       and last.ask_px == now.ask_px and last.ask_sz == now.ask_sz)
        if (changed and d.book == BOOK_BBO) or (len(prints) and not d.count_prints):
            return self._python_applied(None, m, length, ft, ts, True, loc)
        if len(prints):  # on_trade is the base no-op: its events are counted, not called
            self.counted_events += len(prints)
            prints.clear()
        if d.count_book:
            self.counted_events += 1
        if changed:
            last[0] = now
        self._mark_locate(loc, &now)  # no on_book call, but risk's mark follows the mid
        self.c_deliveries += 1
        return 0

    cdef int _mark(self, object symbol, const RecLast* now) except -1:
        """Risk's reference price (the collar's, and unrealised PnL's) to the mid of a
        two-sided ``now`` of ``symbol``, as :meth:`StrategyContext.market` sets it on every
        book message of a subscribed symbol, unless risk holds that mid already (the write
        would leave all as it is: ``RiskEngine.set_reference`` is a dict write).

        Compared with the mark risk holds (``Ledger.marks``), not with the last mid the
        core set: a strategy may set its own in between (``ctx.orders.risk.set_reference``),
        which the context's next book message of the symbol overwrites with the mid, a BBO
        change or not. Test: ``test_engine_backtest_core.py::
        test_engine_backtest_core_a_strategys_own_reference_price_is_overwritten_as_there``
        (it failed when the core set the mark only when the mid moved)."""
        cdef int64_t mid
        cdef int overflow = 0
        cdef PyObject* cur
        if now.bid_ok and now.ask_ok:
            mid = (<int64_t>now.bid_px + now.ask_px) // 2
            cur = PyDict_GetItemWithError(self.marks, symbol)
            # Compared in C (no int object made for the mid); any other mark is not it.
            if (cur == NULL or not PyLong_CheckExact(<object>cur)
                    or PyLong_AsLongLongAndOverflow(<object>cur, &overflow) != mid or overflow):
                self.set_reference(symbol, mid)
        return 0

    cdef inline int _mark_locate(self, uint16_t loc, const RecLast* now) except -1:
        """:meth:`_mark` for a locate whose message the core handled without Python (its
        symbol read only for a two-sided BBO)."""
        if now.bid_ok and now.ask_ok:
            self._mark((<CBook>self.sb.book_objs[self.sb.book_of[loc]]).symbol, now)
        return 0

    cdef int _python_applied(self, object unused, const uint8_t* m, Py_ssize_t length,
                             int64_t ft, int64_t ts, bint filtered, uint16_t loc) except -1:
        """Deliver a book message already applied to the strategy's book through the
        context (``filtered``: of a locate whose BBO ``lastq`` follows), the book of
        ``loc`` changed (:meth:`_filed_loc`)."""
        self.python_deliveries += 1
        self._push()
        if (filtered and self.book_update is not None and not len(self.prints)
                and self.decl[loc].book == BOOK_BBO):
            self._bbo_call(m, length, loc)
        else:
            self.deliver_py(ft, ts,
                            itch_decode(PyBytes_FromStringAndSize(<const char*>m, length)), True,
                            loc)
        self._pull()
        self._after_strategy()
        if filtered:  # the context saw this book as it is now (its "bbo", risk's mark)
            self._bbo_of(loc, &self.lastq[loc])
            if self.decl[loc].book == BOOK_DEPTH:
                self._remember_top(loc)
        return 0

    cdef int _bbo_call(self, const uint8_t* m, Py_ssize_t length, uint16_t loc) except -1:
        """What the runner's ``_deliver`` and :meth:`StrategyContext.market` do for a book
        message, already applied, of a subscribed locate declared ``book="bbo"``, with no
        print to deliver (the caller's conditions), in their order: risk's reference price
        from a two-sided BBO, then an ``on_book`` call if the BBO is not the one the context
        last saw (``last_seen``, which it keeps), driven by the runner's ``_drive``. The
        clocks are the runner's already (``_push``). Held to the context's path by
        ``test_engine_backtest_core.py``: the same report, to the last byte.

        The reference price is written only when risk does not hold the mid already
        (:meth:`_mark`): most BBO changes are a size at the top (workload a of
        bench_hftbacktest: 19k of 83k move the mid). Each Python object is
        made once (the locate's int, the BBO from the C book, the BookUpdate straight into
        its slots: ``SlotsConstructor._new``), the dicts are read in C. Issue #16: the
        no-op ``on_book`` floor of workload a, 0.95 -> 0.5 us a call (with
        :func:`_plain_attributes`)."""
        cdef RecLast now
        cdef CBook book
        cdef PyObject* vals[6]
        cdef PyObject* prev
        cdef bint changed
        cdef object locate = loc  # one int object for the dict keys and the event
        cdef object timestamp
        self._bbo_of(loc, &now)
        book = self.sb.books[locate]
        symbol = book.symbol
        bbo = _bbo_new(now.bid_px if now.bid_ok else None, now.bid_sz,
                       now.ask_px if now.ask_ok else None, now.ask_sz)
        self._mark(symbol, &now)
        prev = PyDict_GetItemWithError(self.last_seen, locate)
        changed = prev == NULL or PyObject_RichCompareBool(<object>prev, bbo, Py_NE)
        self.last_seen[locate] = bbo
        if changed:
            msg = itch_decode(PyBytes_FromStringAndSize(<const char*>m, length))
            timestamp = rd48(m + L_TS)  # msg.timestamp, from the bytes: no attribute lookup
            vals[0] = <PyObject*>symbol
            vals[1] = <PyObject*>locate
            vals[2] = <PyObject*>timestamp
            vals[3] = <PyObject*>bbo
            vals[4] = <PyObject*>book
            vals[5] = <PyObject*>msg
            coro = self.on_book(self.book_update._new(vals))
            if self.measure:
                self.drive(coro)
            else:
                self._drive(coro)
        return 0

    cdef int _drive(self, object coro) except -1:
        """The runner's ``_drive`` for a callback it does not time: run ``coro`` to its
        end (``PyIter_Send``: no StopIteration), a suspension or asyncio's "no running
        event loop" being the runner's error (its ``_suspended``, ``_callback_raised``);
        count the event (added to the result's at the end), then deliver the order
        updates and forget the finished orders it caused, as the runner does."""
        cdef PySendResult r = PYGEN_RETURN
        runner = self.runner
        try:
            r = _send(coro)
        except RuntimeError as exc:
            runner._callback_raised(exc)
        if r == PYGEN_NEXT:
            runner._suspended(coro)
        self.counted_events += 1
        if self.pending_updates:  # runner._updates (the same list, never rebound)
            self.deliver_updates()
        if self.rdict["_finished"]:  # runner._finished
            self._forget_finished()
        return 0

    cdef int _remember_top(self, uint16_t loc) except -1:
        """Keep the top levels of ``loc`` now in ``dlast[loc]``, grown when they need more
        room than it has."""
        cdef Py_ssize_t used = self._top_of(loc, self.decl[loc].depth, self.dnow)
        cdef int64_t* seen = self.dlast[loc]
        cdef int64_t* grown
        if seen == NULL or seen[0] < used:
            grown = <int64_t*>realloc(seen, (1 + used) * sizeof(int64_t))
            if grown == NULL:
                raise MemoryError()
            grown[0] = used
            self.dlast[loc] = seen = grown
        memcpy(seen + 1, self.dnow, used * sizeof(int64_t))
        return 0

    # -- the exchange side --------------------------------------------------------------------
    cdef inline bint _is_ahead(self, int loc, uint64_t ref) except -1:
        """Is feed order ``ref`` ahead of one of our orders: at ``loc`` (the compiled
        venue's queues, where the venue looks), or anywhere (``ahead``, a superset)."""
        if self.cvenue is not None:
            return self.cvenue.is_ahead(loc, ref)
        return bool(self.ahead) and ref in self.ahead

    cdef bint _venue_needs_python(self, const uint8_t* m, uint8_t t) except -1:
        """Would the venue's queue model (``CVenue.market``, or ``SimulatedVenue.on_market``
        for a reference venue) act on this message?

        Its rules, read backwards: a system event may end market hours, a Stock Directory
        may end orders of ours wherever they rest (``SimulatedVenue._directory``); where our orders
        rest (``vflag``), an execution (E, C) of a feed order works on our orders of its
        side priced at or through it (``vbid``/``vask``), a cancel or delete (X, D) on our
        queue only if that order was ahead of one of ours (:meth:`_is_ahead`), an add (A,
        F) or the new side of a replace (U) only if it crosses one of ours, a trade (P)
        only strictly through one of ours. A message naming a feed order (E, C, X, D, U)
        works where that order rests, whatever locate the message carries, and an add or
        a replace's new order onto a live reference evicts the order there
        (``SimulatedVenue._gone``): that one counts as ahead of ours or taken from as a
        delete of it would; one that files a reference the book holds messages for in
        its reorder window applies them (``SimulatedVenue._held``): it counts wherever we
        rest or took shares. Anywhere, a book message naming a feed order we took shares
        from (``_consumed``). Otherwise the venue would change nothing: it is not
        called."""
        cdef uint64_t ref = 0
        cdef int loc
        cdef int32_t oi
        cdef int64_t price
        cdef uint8_t side
        if t == 0x53:
            return True
        if t == 0x52:  # a directory may end our orders (CVenue._directory)
            return bool(self.by_locate)
        if not is_book_type(t) and t != 0x50:
            return False
        if t == 0x41 or t == 0x46 or t == 0x50:
            loc = rd16(m + L_LOCATE)
            if t != 0x50:
                ref = rd64(m + A_REF)
                if self._evicts(ref) or self._resolves(ref):
                    return True
            if not self.vflag[loc]:
                return False
            if t == 0x50:
                price = rd32(m + P_PRICE)
                return self.vbid[loc] > price or self.vask[loc] < price
            price = rd32(m + A_PRICE)
            if rd32(m + A_SHARES) > 0 and price > 0:
                if m[A_SIDE] == 0x42:
                    return self.vask[loc] <= price
                if m[A_SIDE] == 0x53:
                    return self.vbid[loc] >= price
            return False
        named_ref(m, t, &ref)  # an E, C, X, D or U: the others returned above
        oi = self.vb._find(ref)
        if oi >= 0:
            loc = self.vb.cbooks[self.vb.orders_[oi].book].locate  # where it rests
            if t == 0x55 and rd64(m + U_NEW) != ref and self._evicts(rd64(m + U_NEW)):
                return True
            if t == 0x55 and self._resolves(rd64(m + U_NEW)):
                return True
            if self.vflag[loc]:
                if t == 0x45 or t == 0x43:
                    price = self.vb.orders_[oi].price
                    if self.vb.orders_[oi].side == 0:
                        if self.vbid[loc] >= price:
                            return True
                    elif self.vask[loc] <= price:
                        return True
                elif t == 0x58 or t == 0x44:
                    if self._is_ahead(loc, ref):
                        return True
                else:  # U: the old order leaves a queue, the new one may cross us
                    if self._is_ahead(loc, ref):
                        return True
                    price = rd32(m + U_PRICE)
                    side = self.vb.orders_[oi].side
                    if rd32(m + U_SHARES) > 0 and price > 0:
                        if side == 0:
                            if self.vask[loc] <= price:
                                return True
                        elif self.vbid[loc] >= price:
                            return True
        if not self.consumed:
            return False
        return ref in self.consumed

    cdef bint _resolves(self, uint64_t ref) except -1:
        """Does the venue's book hold messages for feed order ``ref`` in its reorder
        window, which it applies (each through ``CVenue.held`` first) once an add or a
        replace's new order files ``ref``, where we rest or took shares?"""
        if not self.vb.n_pending or (not self.by_locate and not self.consumed):
            return False
        return ref in self.vb.pending_

    cdef bint _evicts(self, uint64_t ref) except -1:
        """Does an add (or a replace's new order) onto ``ref`` evict a live feed order the
        venue's queue model knows: one ahead of ours where it rests, or one we took
        shares from (``SimulatedVenue._gone``)?"""
        cdef int32_t oi = self.vb._find(ref)
        if oi < 0:
            return False
        if self.consumed and ref in self.consumed:
            return True
        return self._is_ahead(self.vb.cbooks[self.vb.orders_[oi].book].locate, ref)

    cdef int _message(self, const uint8_t* m, Py_ssize_t length) except -1:
        cdef uint8_t t = m[0]
        cdef int64_t t_ex = <int64_t>rd48(m + L_TS)
        cdef int64_t deliver, ft
        cdef FeedItem* it
        cdef FeedItem* nq
        cdef Py_ssize_t i
        if t_ex < self.exchange_now:
            t_ex = self.exchange_now  # never run the clock backwards on a bad stamp
        # Everything scheduled before this message happens first.
        while True:
            ft = self.q[self.qhead].deliver if self.qlen else TW_INT64_MAX
            if self.heap_top <= t_ex and self.heap_top <= ft:
                self._heap_event()
            elif ft < t_ex:
                self._deliver()
            else:
                break
        self.exchange_now = t_ex
        if self._venue_needs_python(m, t):
            self.python_venue += 1
            self._push()
            if self.cvenue is not None:
                self.cvenue.market(m, t_ex)
            else:
                self.on_market(itch_decode(PyBytes_FromStringAndSize(<const char*>m, length)),
                               t_ex)
            self.vb._apply_frame(m, length)
            if len(self.fills) != self.rdict["_fills_seen"]:  # runner._fills_seen
                self.record_fills()
            self._pull()
            self._after_venue()
        else:
            self.vb._apply_frame(m, length)
        if self.feed_const >= 0:
            deliver = t_ex + self.feed_const
        else:
            deliver = t_ex + <int64_t>self.feed_sample()
        if deliver < self.last_feed:
            deliver = self.last_feed
        self.last_feed = deliver
        if self.qlen == self.qcap:
            nq = <FeedItem*>malloc(2 * self.qcap * sizeof(FeedItem))
            if nq == NULL:
                raise MemoryError()
            for i in range(self.qlen):
                nq[i] = self.q[(self.qhead + i) % self.qcap]
            free(self.q)
            self.q = nq
            self.qhead = 0
            self.qcap *= 2
        it = &self.q[(self.qhead + self.qlen) % self.qcap]
        it.deliver = deliver
        it.ts = t_ex
        it.length = <uint16_t>length
        memcpy(it.data, m, length)
        self.qlen += 1
        self.count += 1
        if self.count % self.sample_every == 0:
            self._push()
            self.sample(t_ex)
            self._pull()
        if self.progress is not None:
            self.pending_progress += 1
            if self.pending_progress >= 4096:
                self.progress(self.pending_progress)
                self.pending_progress = 0
        return 0

    def feed(self, data, bint final=True):
        """Run every complete message of BinaryFILE bytes ``data`` through the loop; the
        bytes used (``final``: an incomplete last frame is a DecodeError), as
        :meth:`CBookManager.feed_binaryfile`."""
        cdef bytes buf = as_bytes(data)
        cdef Frames f
        cdef Py_ssize_t length
        stream_start(self.vb, buf)
        f = frames_of(buf, &self.vb.skipped, &self.vb.length_fixups)
        while True:
            length = frames_next(&f)
            if length == 0:
                break
            if length > FEED_SLOT:
                raise ValueError(f"ITCH message of {length} bytes: longer than a slot")
            self._message(f.msg, length)
        return frames_close(f, final)

    def drain(self):
        """Deliver the rest of the feed and every answer still in flight.

        The heap is empty when it holds nothing (``hn``), not when its least time is the
        largest int64 (``heap_top``'s value for an empty heap): a timer may be set for
        that time (``ctx.set_timer(sys.maxsize, ...)``, "at the end"), and the reference
        fires it. Test: ``test_engine_backtest_core.py::
        test_engine_backtest_core_a_timer_at_the_largest_time_fires_as_there`` (the
        timer was dropped, silently)."""
        cdef int64_t ft
        while self.qlen or self.hn:
            ft = self.q[self.qhead].deliver if self.qlen else TW_INT64_MAX
            if self.hn and self.heap_top <= ft:
                self._heap_event()
            else:
                self._deliver()
        self._push()
        self._give_heap_back()
        if self.progress is not None and self.pending_progress:
            self.progress(self.pending_progress)
            self.pending_progress = 0


# -- the tickwire.itch sink's C side ---------------------------------------------------------
cdef int _sink_message(void* ctx, const unsigned char* m, size_t n) except -1:
    """A message framed by tickwire.itch (type byte first): applied as feed_binaryfile
    applies it. A type this book does not know is counted in ``skipped``."""
    cdef CBookManager mgr = <CBookManager>ctx
    cdef uint8_t t = m[0]
    cdef Py_ssize_t length = LENGTHS[t]
    if length == 0:
        mgr.skipped += 1
        return 0
    if <Py_ssize_t>n < length:
        raise DecodeError(
            f"a {chr(t)} message needs {length} bytes, got {n}", offset=0, message_type=chr(t)
        )
    return mgr._apply_frame(m, length)


cdef void _release_sink(object cap) noexcept:
    Py_DECREF(<object>PyCapsule_GetContext(cap))
