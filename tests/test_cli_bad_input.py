"""Every tickwire command line over a corpus of bad files and bad arguments.

Issue #14, section 5 (``docs/robustness.md``): no command prints a traceback for bad
input or arguments; it prints one line naming the problem and exits 1 when the data
cannot be read, 2 for a usage or configuration error, and never hangs or exits 0.

The corpus is generated in a temporary directory: empty, random bytes, truncated gzip,
gzip garbage, truncated ITCH, truncated pcap header and record, a pcap of an unknown link
type, pcapng garbage, an oversized frame, TOML with wrong types, negative and overflowing
values, a directory and a missing path. Each case runs the CLI's ``main(argv)`` in
process (``main`` returns the status; argparse's own exit is caught too), under a
per-test timeout; a few subprocess runs prove the ``python -m`` entry points.
"""

from __future__ import annotations

import gzip
import importlib
import os
import random
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tickwire.itch import BinaryFileWriter
from tickwire.itch.generator import generate_day
from tickwire.moldudp64.cli import pack_binaryfile
from tickwire.net import PcapWriter, build_udp_frame

pytestmark = pytest.mark.timeout(60, method="thread")  # a hang fails, whatever it blocks in

THRESHOLD_TOML = """\
armed = true
max_orders = 10
first_user_ref_num = 100
feed_port = 26477
order_port = 26400
order_session = "TWORDERS01"

[[instrument]]
locate = 1
symbol = "AAAA"
limit_price = 3600000
base_qty = 100
step_qty = 100
tick = 100
max_order_qty = 1000
max_position = 5000
max_notional = 500000000000
"""


def _pcap_header(linktype: int) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype)


def _record(frame: bytes) -> bytes:
    return struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("corpus")
    itch = d / "good.itch"
    with BinaryFileWriter(itch) as w:
        w.write_all(generate_day(600, 3, 1))
    good = itch.read_bytes()
    frames = [
        build_udp_frame(pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2)
        for _, pkt in pack_binaryfile(str(itch), session="TICKWIRE01")
    ]
    cap = d / "good.pcap"
    with PcapWriter(cap) as pw:
        for frame in frames:
            pw.write(frame)
    good_pcap = cap.read_bytes()
    noise = random.Random(14).randbytes(3000)
    blobs = {
        "empty": b"",
        "random": noise,
        "trunc.gz": gzip.compress(good)[: len(gzip.compress(good)) // 2],
        "garbage.gz": b"\x1f\x8b" + noise[:100],
        "trunc.itch": good[:-5],
        # a frame that cannot be framed half way (an unknown type with a zero prefix), and
        # a cut day inside a whole gzip: errors of the middle of a file, and of a gzip's
        "mid.itch": good[: len(good) // 2] + b"\x00\x00z" + good[len(good) // 2 :],
        "trunc_itch.gz": gzip.compress(good[:-5]),
        "trunc_hdr.pcap": good_pcap[:10],
        "trunc_rec.pcap": good_pcap[:-7],
        "linktype.pcap": _pcap_header(147) + _record(bytes(60)) * 3,
        "garbage.pcapng": b"\x0a\x0d\x0d\x0a" + noise[:200],
        # a feed frame padded to 20,000 bytes: more than BPF_PROG_TEST_RUN (3,520) or the
        # e1000 (16,384) take
        "oversized.pcap": _pcap_header(1) + _record(frames[0] + bytes(20_000 - len(frames[0]))),
    }
    toml = {
        "bad_toml.toml": "armed = = 1\n",
        "not_utf8.toml": b"\xff\xfe\x00 garbage",
        "th_type.toml": THRESHOLD_TOML.replace("max_orders = 10", 'max_orders = "x"'),
        "th_negative.toml": THRESHOLD_TOML.replace("base_qty = 100", "base_qty = -1"),
        "th_overflow.toml": THRESHOLD_TOML.replace(
            "first_user_ref_num = 100", "first_user_ref_num = 4294967295"
        ),
        "bt_seed.toml": '[backtest]\nseed = "abc"\n',
        "bt_ref_negative.toml": "[backtest]\nfirst_user_ref_num = -5\n",
        "bt_ref_overflow.toml": "[backtest]\nfirst_user_ref_num = 4294967290\n",
        "bt_strategy_type.toml": '[strategy]\nquote_size = "abc"\n',
        "bt_strategy_int64.toml": "[strategy]\nquote_size = 99999999999999999999\n",
        "bt_risk_type.toml": '[risk]\nmax_order_qty = "abc"\n',
        "bt_not_a_table.toml": "backtest = 5\n",
        "grid.toml": '[grid]\n"strategy.improve_spread_ticks" = [1]\n',
        # nested deeper than tomllib's recursion: a RecursionError traceback in every
        # config reader (a value of the config, so a table key of its first table)
        "deep.toml": "armed = " + "[" * 5000 + "]" * 5000 + "\n",
        "deep_grid.toml": '[grid]\n"strategy.quote_size" = ' + "[" * 5000 + "]" * 5000 + "\n",
    }
    files = {"itch": itch, "pcap": cap, "dir": d / "adir", "missing": d / "missing"}
    files["dir"].mkdir()
    # Not regular files: refused unopened (a FIFO with no writer blocked at the open;
    # /dev/null was a day of 0 messages, exit 0); a /proc file, regular but of size 0 with
    # bytes in it, was called empty.
    files["fifo"] = d / "fifo"
    os.mkfifo(files["fifo"])
    files["dev_null"] = Path("/dev/null")
    files["procfs"] = Path("/proc/self/status")
    (d / "good.toml").write_text(THRESHOLD_TOML)
    files["good.toml"] = d / "good.toml"
    for name, data in {**blobs, **toml}.items():
        files[name] = d / name
        if isinstance(data, str):
            files[name].write_text(data)
        else:
            files[name].write_bytes(data)
    files["out"] = d / "out"
    files["out"].mkdir()
    return files


#: Bad data files: exit 1. Paths that name no file: exit 2 (argparse's FileType rule).
DATA_FILES = [
    "random",
    "trunc.gz",
    "garbage.gz",
    "trunc.itch",
    "trunc_hdr.pcap",
    "trunc_rec.pcap",
    "linktype.pcap",
    "garbage.pcapng",
]
NO_FILE = ["empty", "dir", "missing", "fifo", "dev_null", "procfs"]
#: What the line says of each input that is no regular file, or that the file system
#: gives no size.
NOT_REGULAR = {
    "fifo": "is not a regular file (a pipe): save it to a file first",
    "dev_null": "is not a regular file (a character device): save it to a file first",
    "procfs": "its file system gives it no size (a /proc or /sys file",
}

Argv = Callable[[dict[str, Path], Path], list[str]]

#: (module with main, argv for a bad input path) for every command that reads a data file.
FILE_COMMANDS: list[tuple[str, Argv]] = [
    ("tickwire.itch.cli", lambda c, f: ["stats", str(f)]),
    ("tickwire.itch.cli", lambda c, f: ["dump", str(f), "--json"]),
    ("tickwire.itch.cli", lambda c, f: ["convert", str(f), "--parquet", str(c["out"] / "pq")]),
    ("tickwire.moldudp64.cli", lambda c, f: ["itch2pcap", str(f), str(c["out"] / "o.pcap")]),
    ("tickwire.moldudp64.cli", lambda c, f: ["pcap2itch", str(f), str(c["out"] / "o.itch")]),
    (
        "tickwire.moldudp64.cli",
        lambda c, f: ["replay", str(f), "--to", "127.0.0.1:9", "--speed", "0", "--max", "3"],
    ),
    ("tickwire.ouch.decode", lambda c, f: ["decode", str(f), "--json"]),
    ("tickwire.engine.cli", lambda c, f: ["book", str(f)]),
    ("tickwire.engine.cli", lambda c, f: ["book", str(f), "--backend", "cython"]),
    (
        "tickwire.engine.cli",
        lambda c, f: ["backtest", str(f), "--out", str(c["out"] / "bt"), "--no-plot", "--quiet"],
    ),
    (
        "tickwire.engine.cli",
        lambda c, f: ["export", str(f), "--symbol", "AAAA", "--out", str(c["out"] / "ex")],
    ),
    (
        "tickwire.engine.cli",
        lambda c, f: [
            "threshold",
            "--backend",
            "reference",
            "--config",
            str(c["good.toml"]),
            str(f),
            "--orders",
            str(c["out"] / "t.pcap"),
            "--json",
            str(c["out"] / "t.json"),
        ],
    ),
    (
        "tickwire.engine.cli",
        lambda c, f: [
            "exchange",
            "--feed",
            "127.0.0.1:9",
            "--ouch-port",
            "0",
            "--rerequest-port",
            "0",
            "--rate",
            "1000000",
            "--duration",
            "0",
            "--flow",
            str(f),
        ],
    ),
    (
        "tickwire.engine.cli",
        lambda c, f: [
            "exchange",
            "--feed",
            "127.0.0.1:9",
            "--ouch-port",
            "0",
            "--rerequest-port",
            "0",
            "--duration",
            "0",
            "--preload",
            str(f),
        ],
    ),
    (
        "tickwire.exchange.cli",
        lambda c, f: [
            "--feed",
            "127.0.0.1:9",
            "--ouch-port",
            "0",
            "--rerequest-port",
            "0",
            "--rate",
            "1000000",
            "--duration",
            "0",
            "--flow",
            str(f),
        ],
    ),
    ("tickwire.engine.cli_backtest", lambda c, f: ["backtest", str(f), "--no-plot", "--quiet"]),
    ("tickwire.baremetal.__main__", lambda c, f: ["traffic", "--capture", str(f)]),
]

#: Every command that reads a TOML config, for each bad config: exit 2.
CONFIG_COMMANDS: list[tuple[str, Argv]] = [
    (
        "tickwire.engine.cli",
        lambda c, f: [
            "threshold",
            "--backend",
            "reference",
            "--config",
            str(f),
            str(c["pcap"]),
            "--orders",
            str(c["out"] / "t.pcap"),
            "--json",
            str(c["out"] / "t.json"),
        ],
    ),
    (
        "tickwire.engine.cli",
        lambda c, f: [
            "backtest",
            "--config",
            str(f),
            "--messages",
            "3000",
            "--symbols",
            "5",
            "--out",
            str(c["out"] / "bt"),
            "--no-plot",
            "--quiet",
        ],
    ),
    (
        "tickwire.engine.cli",
        lambda c, f: ["live", "--feed", "127.0.0.1:9", "--ouch", "127.0.0.1:9", "--config", str(f)],
    ),
    ("tickwire.xdp.cli", lambda c, f: ["attach", "lo", "--config", str(f)]),
    ("tickwire.baremetal.__main__", lambda c, f: ["boot", "--config", str(f)]),
    (
        "tickwire.engine.cli",
        lambda c, f: [
            "sweep",
            "--data",
            str(c["itch"]),
            "--grid",
            str(c["grid.toml"]),
            "--config",
            str(f),
            "--out",
            str(c["out"] / "sw"),
            "--quiet",
        ],
    ),
]
#: Bad values of the config schemas (tickwire.threshold.schema): every command's line names
#: the file before the key (``cfg.toml: max_orders: must be an integer, got str 'x'``).
NAMED_VALUE_ERRORS = {
    "th_type.toml",
    "th_negative.toml",
    "th_overflow.toml",
    "bt_seed.toml",
    "bt_ref_negative.toml",
    "bt_strategy_type.toml",
    "bt_strategy_int64.toml",
    "bt_risk_type.toml",
}
THRESHOLD_CONFIGS = [
    "bad_toml.toml",
    "not_utf8.toml",
    "deep.toml",
    "th_type.toml",
    "th_negative.toml",
    "th_overflow.toml",
    "dir",
    "missing",
    "fifo",
    "dev_null",
]
BACKTEST_CONFIGS = [
    "bad_toml.toml",
    "not_utf8.toml",
    "deep.toml",
    "bt_seed.toml",
    "bt_ref_negative.toml",
    "bt_ref_overflow.toml",
    "bt_strategy_type.toml",
    "bt_strategy_int64.toml",
    "bt_risk_type.toml",
    "bt_not_a_table.toml",
    "dir",
    "missing",
    "fifo",
    "dev_null",
]


def _run(module: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    main = importlib.import_module(module).main
    try:
        status = main(argv)
    except SystemExit as exc:  # still accepted: argparse's own exit
        status = exc.code if isinstance(exc.code, int) else 1
    return status, capsys.readouterr().err


def _check(status: int, err: str, expected: set[int], what: str) -> None:
    assert "Traceback" not in err, f"{what}: traceback\n{err}"
    assert status in expected, f"{what}: exit {status}, wanted {expected}\n{err}"
    # One line names the problem: argparse's "PROG: error: ..." (after its usage lines),
    # else the only line of stderr.
    lines = [x for x in err.splitlines() if "error:" in x] or err.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) > 10, f"{what}: not one line\n{err}"


def _ids(cmds: list[tuple[str, Argv]]) -> list[str]:
    dummy = {"out": Path("OUT"), "good.toml": Path("C"), "pcap": Path("P")}
    dummy |= {"itch": Path("I"), "grid.toml": Path("G")}
    return [
        f"{m.split('.')[1]}-{'_'.join(a(dummy, Path('F'))[:1])}-{i}"
        for i, (m, a) in enumerate(cmds)
    ]


@pytest.mark.parametrize(("module", "argv"), FILE_COMMANDS, ids=_ids(FILE_COMMANDS))
def test_every_file_command_over_the_corpus(
    corpus: dict[str, Path], capsys: pytest.CaptureFixture[str], module: str, argv: Argv
) -> None:
    for name in DATA_FILES + NO_FILE:
        if module == "tickwire.baremetal.__main__" and name == "oversized.pcap":
            continue  # it would boot a guest; threshold --backend baremetal covers it
        status, err = _run(module, argv(corpus, corpus[name]), capsys)
        _check(status, err, {2} if name in NO_FILE else {1}, f"{module} {name}")
        if name in NOT_REGULAR:
            assert f"{corpus[name]}: {NOT_REGULAR[name]}" in err, f"{module} {name}\n{err}"
            assert "empty" not in err, f"{module} {name}\n{err}"


#: Every command that reads ITCH BinaryFILEs: (module with main, argv for the file, the
#: option its error line names the file after, None: the file alone).
ITCH_COMMANDS: list[tuple[str, Argv, str | None]] = [
    ("tickwire.itch.cli", lambda c, f: ["stats", str(f)], None),
    ("tickwire.itch.cli", lambda c, f: ["dump", str(f), "--json"], None),
    (
        "tickwire.itch.cli",
        lambda c, f: ["convert", str(f), "--parquet", str(c["out"] / "pq")],
        None,
    ),
    ("tickwire.moldudp64.cli", lambda c, f: ["itch2pcap", str(f), str(c["out"] / "o.pcap")], None),
    (
        "tickwire.moldudp64.cli",
        lambda c, f: ["replay", str(f), "--to", "127.0.0.1:9", "--speed", "0"],
        None,
    ),
    ("tickwire.engine.cli", lambda c, f: ["book", str(f)], None),
    ("tickwire.engine.cli", lambda c, f: ["book", str(f), "--backend", "cython"], None),
    *(
        (
            "tickwire.engine.cli",
            lambda c, f, b=backend: [
                *("backtest", str(f), "--backend", b),
                *("--out", str(c["out"] / "bt"), "--no-plot", "--quiet"),
            ],
            None,
        )
        for backend in ("reference", "cython", "compiled")
    ),
    (
        "tickwire.engine.cli_backtest",
        lambda c, f: ["backtest", str(f), "--no-plot", "--quiet"],
        None,
    ),
    (
        "tickwire.engine.cli",
        lambda c, f: ["export", str(f), "--symbol", "AAAA", "--out", str(c["out"] / "ex")],
        None,
    ),
    *(
        (
            module,
            lambda c, f, o=option, m=module: [
                *(["exchange"] if m == "tickwire.engine.cli" else []),
                *("--feed", "127.0.0.1:9", "--ouch-port", "0", "--rerequest-port", "0"),
                *("--rate", "1000000", "--duration", "0", o, str(f)),
            ],
            option,
        )
        for module in ("tickwire.engine.cli", "tickwire.exchange.cli")
        for option in ("--flow", "--preload")
    ),
]
#: Damaged BinaryFILEs, each with what its error line says after the file's name.
DAMAGED_ITCH = {
    "trunc.itch": "truncated frame at end of stream",
    "mid.itch": "unknown message type with a zero length prefix",
    "trunc_itch.gz": "truncated frame at end of stream",
    "trunc.gz": "corrupt",  # "corrupt gzip stream", or "corrupt or truncated gzip data"
}


def _itch_ids(cmds: list[tuple[str, Argv, str | None]]) -> list[str]:
    """``itch-stats``, ``engine-backtest---backend-compiled``, ``exchange---flow``: the
    package and the command's words, no file."""
    named = ("--backend", "--flow", "--preload")
    ids = []
    for module, argv, _ in cmds:
        words = argv({"out": Path("O")}, Path("F"))
        keep = [
            w
            for w in words
            if w in named or (w.isalnum() and not w.isdigit() and w not in ("F", "AAAA", "O"))
        ]
        ids.append("-".join([module.split(".")[1], *keep[:3]]))
    return ids


@pytest.mark.parametrize(("module", "argv", "option"), ITCH_COMMANDS, ids=_itch_ids(ITCH_COMMANDS))
def test_an_unreadable_itch_file_is_named_in_the_error(
    corpus: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    module: str,
    argv: Argv,
    option: str | None,
) -> None:
    """A BinaryFILE that cannot be read or decoded, cut at its end, unframeable in its
    middle, cut inside a gzip or a gzip cut short: the one error line names the file
    before what is wrong (``PROG: error: day.itch: truncated frame ...``), exit 1, in
    every command that reads ITCH files (the compiled book's and core's own framing
    too). It said ``truncated frame at end of stream ...`` and nothing of which file: a
    user with several days, or a folder of them, could not tell which was bad. One rule
    for all: ``tickwire.cli.name_input`` (the exchange's ``--flow day.itch: ...`` was
    the first)."""
    for name, what in DAMAGED_ITCH.items():
        path = corpus[name]
        status, err = _run(module, argv(corpus, path), capsys)
        _check(status, err, {1}, f"{module} {name}")
        line = next(x for x in err.splitlines() if "error:" in x)
        label = f"{option} {path}" if option else str(path)
        assert f"error: {label}: {what}" in line, f"{module} {name}: not named\n{err}"


def test_a_sweep_names_the_unreadable_day_of_a_failed_run(
    corpus: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A sweep's failed runs (its summary table and its stderr) name the day that could
    not be read, as ``backtest`` does (each run is ``backtest_file``)."""
    out = corpus["out"] / "sw_named"
    days = [str(corpus[name]) for name in DAMAGED_ITCH]
    argv = ["sweep", "--data", *days, "--grid", str(corpus["grid.toml"])]
    argv += ["--out", str(out), "--workers", "1", "--no-plot", "--quiet"]
    status, err = _run("tickwire.engine.cli", argv, capsys)
    assert status == 1, err
    import csv

    with (out / "summary.csv").open() as f:
        errors = {row["day"]: row["error"] for row in csv.DictReader(f)}
    for name, what in DAMAGED_ITCH.items():
        assert f"{corpus[name]}: {what}" in errors[name], errors[name]
        assert f"{corpus[name]}: {what}" in err, err


@pytest.mark.parametrize(("module", "argv"), CONFIG_COMMANDS, ids=_ids(CONFIG_COMMANDS))
def test_every_config_command_over_bad_toml(
    corpus: dict[str, Path], capsys: pytest.CaptureFixture[str], module: str, argv: Argv
) -> None:
    backtest_like = {"backtest", "live", "sweep"} & set(argv(corpus, Path("x")))
    for name in BACKTEST_CONFIGS if backtest_like else THRESHOLD_CONFIGS:
        if name == "bt_ref_overflow.toml" and {"live", "sweep"} & set(argv(corpus, Path("x"))):
            # valid for live: nothing runs out before it connects; a sweep finds it in
            # each run (an error row per run, exit 1)
            continue
        status, err = _run(module, argv(corpus, corpus[name]), capsys)
        _check(status, err, {2}, f"{module} {name}")
        # A bad value of a table the command reads (live reads no [backtest]): the line
        # names the file, then the key.
        if name in NAMED_VALUE_ERRORS and not (
            "live" in argv(corpus, Path("x")) and name.startswith(("bt_seed", "bt_ref"))
        ):
            line = err.strip().splitlines()[-1]
            assert f"{corpus[name]}: " in line, f"{module} {name}: the file is not named\n{err}"


def test_toml_nested_too_deeply_is_one_line_naming_the_file(
    corpus: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Arrays nested deeper than tomllib's recursion (a hostile or generated file) raised
    ``RecursionError`` out of every config reader: a traceback, exit 1. Now a bad config
    like any invalid TOML: one line naming the file, exit 2 (the readers' cases are in
    the corpus, ``deep.toml``; here the sweep's grid and the error's words)."""
    argv = ["sweep", "--data", str(corpus["itch"]), "--grid", str(corpus["deep_grid.toml"])]
    status, err = _run("tickwire.engine.cli", [*argv, "--out", str(corpus["out"] / "sw")], capsys)
    _check(status, err, {2}, "sweep --grid deep_grid.toml")
    line = err.strip().splitlines()[-1]
    assert f"{corpus['deep_grid.toml']}: not valid TOML: " in line
    assert "nested too deeply" in line


@pytest.mark.parametrize("backend", ["xdp", "baremetal"])
def test_threshold_backends_on_oversized_frames_and_truncated_gzip(
    corpus: dict[str, Path], capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    for name, needle in (("oversized.pcap", "frame 1 (20000 bytes)"), ("trunc.gz", "gzip")):
        argv = [
            "threshold",
            "--backend",
            backend,
            "--config",
            str(corpus["good.toml"]),
            str(corpus[name]),
            "--orders",
            str(corpus["out"] / "t.pcap"),
            "--json",
            str(corpus["out"] / "t.json"),
        ]
        status, err = _run("tickwire.engine.cli", argv, capsys)
        if status == 2 and "unavailable" in err:
            pytest.skip(err.strip())  # not root, no clang/libbpf or no QEMU here
        _check(status, err, {1}, f"{backend} {name}")
        assert needle in err


BAD_ARGUMENTS: list[tuple[str, list[str]]] = [
    ("tickwire.itch.cli", ["generate", "--symbols", "5000", "--messages", "10", "OUT/g.itch"]),
    ("tickwire.itch.cli", ["generate", "--symbols", "0", "--messages", "10", "OUT/g.itch"]),
    ("tickwire.itch.cli", ["dump", "ITCH", "--limit", "-1"]),
    ("tickwire.itch.cli", ["dump", "ITCH", "--type", "Z"]),
    ("tickwire.moldudp64.cli", ["itch2pcap", "ITCH", "OUT/o.pcap", "--max-payload", "5"]),
    ("tickwire.moldudp64.cli", ["itch2pcap", "ITCH", "OUT/o.pcap", "--session", "WAYTOOLONG1"]),
    ("tickwire.moldudp64.cli", ["itch2pcap", "ITCH", "OUT/o.pcap", "--vlan", "99999"]),
    ("tickwire.moldudp64.cli", ["itch2pcap", "ITCH", "OUT/o.pcap", "--src-ip", "1.2.3"]),
    ("tickwire.moldudp64.cli", ["itch2pcap", "ITCH", "OUT/o.pcap", "--dst-port", "70000"]),
    ("tickwire.moldudp64.cli", ["itch2pcap", "ITCH", "OUT/o.pcap", "--date", "yesterday"]),
    ("tickwire.moldudp64.cli", ["itch2pcap", "ITCH", "OUT/o.pcap", "--date", "20200102"]),
    ("tickwire.moldudp64.cli", ["pcap2itch", "PCAP", "OUT/o.itch", "--port", "-3"]),
    ("tickwire.moldudp64.cli", ["replay", "PCAP", "--to", "127.0.0.1:9", "--rate", "-5"]),
    # one timing or the other: --rate silently replaced --speed
    (
        "tickwire.moldudp64.cli",
        ["replay", "PCAP", "--to", "127.0.0.1:9", "--rate", "5", "--speed", "2", "--max", "1"],
    ),
    ("tickwire.moldudp64.cli", ["replay", "PCAP", "--to", "localhost:9", "--max", "1"]),
    ("tickwire.moldudp64.cli", ["replay", "PCAP", "--to", "127.0.0.1:99999", "--max", "1"]),
    ("tickwire.moldudp64.cli", ["replay", "PCAP", "--to", "127.0.0.1:9", "--ttl", "999"]),
    ("tickwire.ouch.decode", ["decode", "PCAP", "--port", "99999"]),
    ("tickwire.engine.cli", ["book", "ITCH", "--backend", "fpga"]),
    ("tickwire.engine.cli", ["exchange", "--feed", "127.0.0.1:9", "--ouch-port", "99999"]),
    ("tickwire.engine.cli", ["exchange", "--feed", "127.0.0.1:9", "--loss", "2"]),
    ("tickwire.engine.cli", ["exchange", "--feed", "127.0.0.1:9", "--rate", "-5"]),
    ("tickwire.exchange.cli", ["--feed", "127.0.0.1:9", "--ouch-port", "99999"]),
    ("tickwire.exchange.cli", ["--feed", "127.0.0.1:9", "--generate", "10", "--symbols", "5000"]),
    (
        "tickwire.engine.cli",
        [
            "exchange",
            "--feed",
            "127.0.0.1:9",
            "--generate",
            "10",
            "--symbols",
            "5000",
            "--duration",
            "0",
        ],
    ),
    ("tickwire.engine.cli", ["backtest", "--messages", "10", "--symbols", "5000"]),
    # an output folder that is a file: refused while parsing, not after the whole run
    ("tickwire.engine.cli", ["backtest", "--messages", "2000", "--symbols", "3", "--out", "ITCH"]),
    ("tickwire.engine.cli", ["export", "ITCH", "--symbol", "X", "--out", "ITCH"]),
    ("tickwire.itch.cli", ["convert", "ITCH", "--parquet", "ITCH"]),
    ("tickwire.engine.cli", ["export", "--symbol", "X", "--levels", "-1"]),
    (
        "tickwire.engine.cli",
        ["live", "--feed", "127.0.0.1:9", "--ouch", "127.0.0.1:9", "--first-user-ref-num", "-1"],
    ),
    (
        "tickwire.engine.cli",
        [
            "threshold",
            "--backend",
            "nope",
            "--config",
            "TOML",
            "PCAP",
            "--orders",
            "OUT/t.pcap",
            "--json",
            "OUT/t.json",
        ],
    ),
    ("tickwire.xdp.cli", ["set", "lo", "--locate", "99999999"]),
    ("tickwire.xdp.cli", ["stats", "lo", "--watch", "-1"]),
    ("tickwire.baremetal.__main__", ["traffic", "--generate", "-5"]),
    ("tickwire.baremetal.__main__", ["traffic", "--generate", "10", "--symbols", "5000"]),
    ("tickwire.baremetal.__main__", ["traffic", "--generate", "100", "--faults", "2"]),
    ("tickwire.baremetal.__main__", ["traffic", "--generate", "100", "--repeat", "0"]),
    ("tickwire.baremetal.__main__", ["traffic", "--generate", "100", "--repeat", "2", "--loop"]),
    ("tickwire.baremetal.__main__", ["traffic", "--generate", "100", "--max-seconds", "0"]),
]


@pytest.mark.parametrize(
    ("module", "argv"), BAD_ARGUMENTS, ids=[" ".join(a) for _, a in BAD_ARGUMENTS]
)
def test_bad_arguments_are_usage_errors(
    corpus: dict[str, Path], capsys: pytest.CaptureFixture[str], module: str, argv: list[str]
) -> None:
    subst = {
        "ITCH": str(corpus["itch"]),
        "PCAP": str(corpus["pcap"]),
        "TOML": str(corpus["good.toml"]),
    }
    real = [subst.get(a, a.replace("OUT/", f"{corpus['out']}/")) for a in argv]
    status, err = _run(module, real, capsys)
    _check(status, err, {2}, " ".join(argv))


#: Commands given one of their inputs as an output (IN is the input's path): exit 2, the
#: input unchanged. On the old code each replaced its input and exited 0.
OUTPUT_IS_INPUT: list[tuple[str, list[str], str]] = [
    ("tickwire.moldudp64.cli", ["itch2pcap", "IN", "IN"], "itch"),
    ("tickwire.moldudp64.cli", ["pcap2itch", "IN", "IN"], "pcap"),
    ("tickwire.itch.cli", ["dump", "IN", "--json", "IN"], "itch"),
    ("tickwire.itch.cli", ["generate", "--messages", "10", "--symbols", "2", "IN"], "none"),
    ("tickwire.engine.cli", ["book", "IN", "--json", "IN"], "pcap"),
    (
        "tickwire.engine.cli",
        [
            "threshold",
            "--backend",
            "reference",
            "--config",
            "TOML",
            "IN",
            "--orders",
            "IN",
            "--json",
            "OUT/t.json",
        ],
        "pcap",
    ),
    (
        "tickwire.engine.cli",
        ["backtest", "IN", "--out", "OUT/bt_in", "--no-plot", "--quiet", "--html", "IN"],
        "itch",
    ),
    # the configs are inputs too (tickwire.cli.config_file)
    (
        "tickwire.engine.cli",
        [
            "threshold",
            "--backend",
            "reference",
            "--config",
            "IN",
            "PCAP",
            "--orders",
            "IN",
            "--json",
            "OUT/t.json",
        ],
        "good.toml",
    ),
    (
        "tickwire.engine.cli",
        [
            "backtest",
            "--config",
            "IN",
            "--messages",
            "2000",
            "--symbols",
            "3",
            "--out",
            "OUT/bt_cfg",
            "--no-plot",
            "--quiet",
            "--html",
            "IN",
        ],
        "bt_seed_ok.toml",
    ),
]


@pytest.mark.parametrize(
    ("module", "argv", "kind"), OUTPUT_IS_INPUT, ids=[" ".join(a) for _, a, _ in OUTPUT_IS_INPUT]
)
def test_an_output_never_replaces_the_commands_input(
    corpus: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    module: str,
    argv: list[str],
    kind: str,
) -> None:
    if kind == "none":  # generate reads nothing: writing over a file is what it is asked
        target = tmp_path / "old.itch"
        target.write_bytes(b"old")
        status, err = _run(module, [str(target) if a == "IN" else a for a in argv], capsys)
        assert status == 0 and target.read_bytes() != b"old", err
        return
    data = b"[backtest]\nseed = 3\n" if kind == "bt_seed_ok.toml" else corpus[kind].read_bytes()
    source = tmp_path / f"in.{kind}"
    source.write_bytes(data)
    subst = {"IN": str(source), "TOML": str(corpus["good.toml"]), "PCAP": str(corpus["pcap"])}
    real = [subst.get(a, a.replace("OUT/", f"{corpus['out']}/")) for a in argv]
    status, err = _run(module, real, capsys)
    _check(status, err, {2}, " ".join(argv))
    assert f"{source}: is also this command's input" in err
    assert source.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == [source.name]  # no temporary file left
    if "--out" in argv:  # refused before the run (outputs checked once parsing ends)
        assert not Path(real[real.index("--out") + 1]).exists()


def test_two_outputs_never_name_one_file(
    corpus: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``threshold ... --orders X --json X``: refused (exit 2) before the run, so nothing
    is written. On the old code the JSON replaced the orders, exit 0; then (session 7)
    the run wrote the orders and refused the JSON."""
    out = tmp_path / "both"
    argv = ["threshold", "--backend", "reference", "--config", str(corpus["good.toml"])]
    argv += [str(corpus["pcap"]), "--orders", str(out), "--json", str(out)]
    status, err = _run("tickwire.engine.cli", argv, capsys)
    _check(status, err, {2}, " ".join(argv))
    assert f"{out}: is also another output of this command" in err
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left


#: The entry points themselves, as users run them: exit status and stderr of a process.
ENTRY_POINTS: list[tuple[list[str], str, int]] = [
    (["tickwire.itch", "stats", "trunc.gz"], "gzip", 1),
    (["tickwire.moldudp64", "pcap2itch", "linktype.pcap", "OUT/o.itch"], "link type 147", 1),
    (["tickwire.ouch", "decode", "garbage.pcapng"], "pcapng", 1),
    (["tickwire.engine", "book", "trunc_rec.pcap"], "file ends inside", 1),
    (
        ["tickwire.engine", "exchange", "--feed", "127.0.0.1:9", "--ouch-port", "99999"],
        "port 99999",
        2,
    ),
    (["tickwire.exchange", "--feed", "127.0.0.1:9", "--loss", "2"], "probability 2.0", 2),
    (
        [
            "tickwire.engine.cli_backtest",
            "backtest",
            "--config",
            "bt_seed.toml",
            "--messages",
            "3000",
            "--symbols",
            "5",
            "--out",
            "OUT/bt",
        ],
        "backtest.seed",
        2,
    ),
    (["tickwire.xdp", "set", "lo", "--locate", "0"], "locate 0", 2),
    (["tickwire.baremetal", "traffic", "--capture", "random"], "not a pcap", 1),
    # the control socket's path is named (it said "[Errno 2] No such file or directory")
    (
        ["tickwire.engine", "live", "--control", "OUT/nobody.sock", "--command", "status"],
        "nobody.sock: No such file or directory",
        2,
    ),
    # port 0 is only for listening (--feed); an address connected to needs 1..65535
    (
        ["tickwire.engine", "live", "--feed", "127.0.0.1:0", "--ouch", "127.0.0.1:0"],
        "--ouch: port out of range 1..65535",
        2,
    ),
    (
        [
            "tickwire.engine",
            "live",
            "--feed",
            "127.0.0.1:0",
            "--ouch",
            "127.0.0.1:9",
            "--rerequest",
            "0",
        ],
        "--rerequest: port out of range 1..65535",
        2,
    ),
]


@pytest.mark.parametrize(
    ("argv", "needle", "expected"), ENTRY_POINTS, ids=[" ".join(a[:2]) for a, _, _ in ENTRY_POINTS]
)
def test_entry_points_as_subprocesses(
    corpus: dict[str, Path], argv: list[str], needle: str, expected: int
) -> None:
    real = [str(corpus[a]) if a in corpus else a.replace("OUT/", f"{corpus['out']}/") for a in argv]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", *real], capture_output=True, text=True, timeout=60, env=env
    )
    _check(done.returncode, done.stderr, {expected}, " ".join(argv))
    assert needle in done.stderr
