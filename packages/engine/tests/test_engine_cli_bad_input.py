"""``python -m tickwire.engine`` under bad config values, arguments and files: one
``error:`` line naming the problem, exit 2 (usage, config) or 1 (data), never a traceback."""

from __future__ import annotations

import argparse
import gzip
import json
import socket
from pathlib import Path

import pytest
from tickwire.engine.cli import main
from tickwire.itch import BinaryFileWriter
from tickwire.itch.generator import generate_day
from tickwire.net import PcapWriter

SMALL = ["--messages", "3000", "--symbols", "5", "--no-plot", "--quiet"]


def _error_line(err: str) -> str:
    assert "Traceback" not in err
    # argparse's "PROG: error: ..." after its usage lines, else the command's one line
    # ("live: ..." names the subcommand instead)
    lines = [x for x in err.splitlines() if "error:" in x] or err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[backtest]\nseed = "abc"\n', "backtest.seed: must be an integer, got str 'abc'"),
        ("[backtest]\nseed = true\n", "backtest.seed: must be an integer, got bool True"),
        ("[backtest]\nfirst_user_ref_num = -5\n", "backtest.first_user_ref_num: must be between"),
        ("[backtest]\npnl_sample_every = 0\n", "backtest.pnl_sample_every: must be at least 1"),
        ("[backtest]\nfeed_latency = 5\n", "backtest.feed_latency: must be a string"),
        # 4294967290 is valid but leaves 5 UserRefNums: the market maker needs more
        ("[backtest]\nfirst_user_ref_num = 4294967290\n", "leaves too few 4-byte UserRefNums"),
        # latency specs that failed mid-run (NaN: exit 1; the others blamed on
        # first_user_ref_num through an OverflowError)
        (
            '[backtest]\nfeed_latency = "lognormal:20000,nan"\n',
            "a finite sigma >= 0, got 20000,nan",
        ),
        ('[backtest]\norder_latency = "lognormal:20000,inf"\n', "backtest.order_latency: must be"),
        ('[backtest]\nack_latency = "constant:100000000000000000000000"\n', "more than a day"),
        ('[backtest]\nfeed_latency = "normal:20000,100000000000000000000"\n', "more than a day"),
        ('[strategy]\nquote_size = "abc"\n', "strategy.quote_size: must be an integer"),
        ("[strategy]\nskew_shares = 0\n", "strategy.skew_shares: must be at least 1"),
        ('[strategy]\nsymbols = "AAPL"\n', "strategy.symbols: must be a list"),
        ("[strategy]\nsymbols = [1, 2]\n", "strategy.symbols[0]: must be a string, got int 1"),
        # a symbol no ITCH stock field carries quoted nothing, exit 0 (as risk.restricted
        # and instruments[].symbol are checked: 1 to 8 characters in 0x21..0x7E)
        ('[strategy]\nsymbols = ["AAPL", ""]\n', "strategy.symbols[1]: must be 1 to 8"),
        ('[strategy]\nsymbols = ["ÄÖÜ"]\n', "strategy.symbols[0]: character 'Ä' is not"),
        ('[strategy]\nsymbols = ["WAYTOOLONG"]\n', "strategy.symbols[0]: must be 1 to 8"),
        ('[strategy]\nsymbols = ["AA PL"]\n', "strategy.symbols[0]: character ' ' is not"),
        ("backtest = 5\n", "backtest: must be a table"),
        ("[risk]\nmax_order_qty = 'x'\n", "risk.max_order_qty"),
    ],
)
def test_backtest_config_values_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, needle: str
) -> None:
    cfg = tmp_path / "bt.toml"
    cfg.write_text(toml)
    rc = main(["backtest", "--config", str(cfg), "--out", str(tmp_path / "o"), *SMALL])
    assert rc == 2
    assert needle in _error_line(capsys.readouterr().err)


def test_a_wild_but_valid_latency_runs_and_blames_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sigma 99: half the draws beyond a day, clipped to a day (they never arrive). On the
    old code exp() overflowed mid-run and the error named backtest.first_user_ref_num."""
    cfg = tmp_path / "bt.toml"
    cfg.write_text('[backtest]\nfeed_latency = "lognormal:20000,99"\n')
    rc = main(["backtest", "--config", str(cfg), "--out", str(tmp_path / "o"), *SMALL])
    assert rc == 0, capsys.readouterr().err


def test_taker_parameters_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bt.toml"
    cfg.write_text(
        '[strategy]\nclass = "tickwire.engine.strategy.taker:ThresholdTaker"\ntick = 0\n'
    )
    assert main(["backtest", "--config", str(cfg), "--out", str(tmp_path / "o"), *SMALL]) == 2
    assert "strategy.tick: must be at least 1" in _error_line(capsys.readouterr().err)


def test_backtest_config_that_is_not_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bt.toml"
    cfg.write_bytes(b"\xff\xfe\x00 not toml")
    assert main(["backtest", "--config", str(cfg), "--out", str(tmp_path / "o"), *SMALL]) == 2
    assert "utf-8" in _error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["backtest", "--messages", "10", "--symbols", "5000"], "cannot hold a day"),
        (["backtest", "--messages", "-10"], "count -10 is not at least 1"),
        (["export", "--symbol", "X", "--levels", "0"], "levels 0 is not in 1..1000"),
        # four columns a level in every row: it ran for ever, filling the disk
        (["export", "--symbol", "X", "--levels", "100000000000000000"], "is not in 1..1000"),
    ],
)
def test_generator_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert needle in _error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["backtest", "DAY", "--messages", "5", "--no-plot"], "--messages: describe the sample"),
        (["backtest", "DAY", "--day-seed", "9", "--symbols", "3"], "--symbols, --day-seed"),
        (["export", "DAY", "--symbol", "X", "--messages", "7"], "which DATA replaces"),
    ],
)
def test_sample_day_options_with_data_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    """The sample day's options do nothing with DATA: exit 2, not ignored without a word
    (``backtest DAY --messages 5`` ran the whole day, exit 0)."""
    _day(tmp_path)
    real = [str(tmp_path / "day.itch") if a == "DAY" else a for a in argv]
    assert main([*real, "--out", str(tmp_path / "o")]) == 2
    assert needle in _error_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def _day(tmp_path: Path) -> bytes:
    path = tmp_path / "day.itch"
    with BinaryFileWriter(path) as w:
        w.write_all(generate_day(500, 3, 1))
    return path.read_bytes()


def test_truncated_gzip_is_data_error_for_every_book(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.itch.gz"
    cut.write_bytes(gzip.compress(_day(tmp_path))[:400])
    for backend in ("reference", "cython"):
        assert main(["book", str(cut), "--backend", backend]) == 1
        assert "gzip" in _error_line(capsys.readouterr().err)


def test_a_cut_gzip_is_the_same_line_on_every_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``book`` and ``backtest`` over a gzip day cut short say one line, the same on the
    reference and the compiled backends: the file, then ``corrupt gzip stream: ...`` at
    the offset where its readable bytes end (exit 1). The compiled book and core said
    ``corrupt or truncated gzip data: ...`` (a bare ``EOFError``), the reference
    ``corrupt gzip stream: ... (at byte offset 0)``, having read only whole chunks."""
    import zlib

    day = tmp_path / "day.itch"
    with BinaryFileWriter(day) as w:
        w.write_all(generate_day(3000, 5, 1))
    whole = gzip.compress(day.read_bytes())
    cut = tmp_path / "cut.itch.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    readable = len(zlib.decompressobj(wbits=31).decompress(cut.read_bytes()))
    want = (
        f"error: {cut}: corrupt gzip stream: Compressed file ended before the "
        f"end-of-stream marker was reached (at byte offset {readable})"
    )
    out = ["--out", str(tmp_path / "o"), "--no-plot", "--quiet"]
    runs = {
        "book": [["book", str(cut), "--backend", b] for b in ("reference", "cython")],
        "backtest": [
            ["backtest", str(cut), "--backend", b, *out] for b in ("reference", "compiled")
        ],
    }
    for command, argvs in runs.items():
        for argv in argvs:
            assert main(argv) == 1, argv
            assert _error_line(capsys.readouterr().err) == f"tickwire-engine {command}: {want}"


def test_unknown_link_type_is_an_error_not_zero_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cap = tmp_path / "sll.pcap"
    with PcapWriter(cap, linktype=113) as w:  # Linux cooked, as `tcpdump -i any` writes
        w.write(bytes(80))
    assert main(["book", str(cap)]) == 1
    assert "link type 113" in _error_line(capsys.readouterr().err)
    assert main(["backtest", str(cap), "--out", str(tmp_path / "o"), "--no-plot", "--quiet"]) == 1
    assert "link type 113" in _error_line(capsys.readouterr().err)


def test_live_first_user_ref_num_range(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["live", "--feed", "127.0.0.1:9", "--ouch", "127.0.0.1:9"]
    assert main([*argv, "--first-user-ref-num", "0"]) == 2
    assert "UserRefNum 0 is not in 1..4294967295" in _error_line(capsys.readouterr().err)


def test_live_control_socket_missing_names_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nobody.sock"
    assert main(["live", "--control", str(missing), "--command", "status"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"control socket {missing}: No such file or directory" in line
    stale = tmp_path / "stale.sock"  # a socket file nobody listens on any more
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(stale))
    assert main(["live", "--control", str(stale), "--command", "status"]) == 2
    assert f"control socket {stale}: Connection refused" in _error_line(capsys.readouterr().err)


@pytest.mark.parametrize("flag", ["--ouch", "--rerequest"])
@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_live_addresses_connected_to_need_a_port_from_1(
    capsys: pytest.CaptureFixture[str], flag: str, port: str
) -> None:
    argv = ["live", "--feed", "127.0.0.1:0", "--ouch", "127.0.0.1:9"]
    assert main([*argv, flag, f"127.0.0.1:{port}"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"port out of range 1..65535: '127.0.0.1:{port}'" in line and flag in line


def test_live_feed_listens_so_port_0_is_any_port() -> None:
    from tickwire.engine.cli_live import listen_address, parse_address

    assert listen_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_address("7001") == ("127.0.0.1", 7001)
    with pytest.raises(argparse.ArgumentTypeError, match=r"1\.\.65535"):
        parse_address("127.0.0.1:0")
    with pytest.raises(argparse.ArgumentTypeError, match=r"0\.\.65535"):
        listen_address("127.0.0.1:65536")


def test_live_names_the_address_that_failed(capsys: pytest.CaptureFixture[str]) -> None:
    """A unicast --group is refused while parsing, and an OUCH port nobody listens on is
    named: they were "Invalid argument" and "Connection refused" naming nothing."""
    assert (
        main(["live", "--feed", "127.0.0.1:0", "--ouch", "127.0.0.1:9", "--group", "127.0.0.1"])
        == 2
    )
    assert "--group: 127.0.0.1 is not a multicast group (first octet 224 to 239)" in _error_line(
        capsys.readouterr().err
    )
    with socket.socket() as s:  # a port nobody listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["live", "--feed", "127.0.0.1:0", "--ouch", f"127.0.0.1:{port}"]) == 2
    assert f"OUCH 127.0.0.1:{port}: Connection refused" in _error_line(capsys.readouterr().err)


#: Plugin modules of the strategy-spec tests: name -> source (written to a folder put on
#: ``sys.path``). Each fails while it is imported, so none stays in ``sys.modules``.
PLUGINS = {
    "tw_syntaxerr": "def (:\n",
    "tw_boom": 'raise RuntimeError("x")\n',
    "tw_badimport": "import tw_no_such_dependency\n",
}

#: (where the spec is given, the spec, what the one line says after where). Where is
#: ``--strategy`` or ``FILE: strategy.class`` (the ``[strategy]`` table's ``class``).
STRATEGY_SPECS = [
    ("file", 5, 'must be a string "module:Class", got int 5'),
    ("file", ["a:B"], "must be a string \"module:Class\", got list ['a:B']"),
    ("file", "", "must be module:Class, got ''"),
    ("file", "os:system", "os:system is not a tickwire Strategy subclass"),
    ("file", "..:X", "'..:X': relative module names are not allowed"),
    ("option", "", "must be module:Class, got ''"),
    ("option", "nope", "must be module:Class, got 'nope'"),
    ("option", "..:X", "'..:X': relative module names are not allowed"),
    ("option", ".x:Y", "'.x:Y': relative module names are not allowed"),
    ("option", "os:system", "os:system is not a tickwire Strategy subclass"),
    ("option", "tw_syntaxerr:X", "cannot import tw_syntaxerr: SyntaxError: invalid syntax ("),
    ("option", "tw_boom:X", "cannot import tw_boom: RuntimeError: x"),
    ("option", "tw_badimport:X", "cannot import tw_badimport: No module named 'tw_no_such_d"),
    ("file", "tw_boom:X", "cannot import tw_boom: RuntimeError: x"),
]


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of :data:`PLUGINS` on ``sys.path``."""
    folder = tmp_path / "plug"
    folder.mkdir()
    for name, source in PLUGINS.items():
        (folder / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _spec_args(tmp_path: Path, where: str, spec: object) -> tuple[list[str], str]:
    """The arguments giving ``spec`` ``where`` (a config file's ``class``, or
    ``--strategy``), and how the error line names that place."""
    if where == "option":
        assert isinstance(spec, str)
        return ["--strategy", spec], "--strategy: "
    cfg = tmp_path / "strat.toml"
    cfg.write_text(f"[strategy]\nclass = {json.dumps(spec)}\n")
    return ["--config", str(cfg)], f"{cfg}: strategy.class: "


@pytest.mark.parametrize(("where", "spec", "message"), STRATEGY_SPECS)
def test_a_bad_strategy_spec_is_one_line_naming_its_place(
    tmp_path: Path,
    plugins: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
    spec: object,
    message: str,
) -> None:
    """A ``class`` that is no string was an AttributeError traceback; a relative module
    name a TypeError one; a module that fails to import (a syntax error, an exception) a
    traceback of about 45 lines; an empty spec ran the default market maker (exit 0); a
    bad ``class`` from the file was blamed on ``--strategy``."""
    args, place = _spec_args(tmp_path, where, spec)
    out = tmp_path / "o"
    assert main(["backtest", *args, "--out", str(out), *SMALL]) == 2
    line = _error_line(capsys.readouterr().err)
    assert line.startswith(f"tickwire-engine backtest: error: {place}"), line
    assert message in line
    assert not out.exists()  # refused before the run


def test_a_syntax_error_in_the_strategy_module_names_its_file_and_line(
    tmp_path: Path, plugins: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["backtest", "--strategy", "tw_syntaxerr:X", "--out", str(tmp_path / "o"), *SMALL]
    assert main(argv) == 2
    assert f"({plugins / 'tw_syntaxerr.py'}, line 1)" in _error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("where", "spec", "message"), STRATEGY_SPECS[:4])
def test_live_names_a_bad_strategy_spec_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, spec: object, message: str
) -> None:
    """``live`` resolves the spec where backtest does (before it connects anywhere)."""
    args, place = _spec_args(tmp_path, where, spec)
    assert main(["live", "--feed", "127.0.0.1:0", "--ouch", "127.0.0.1:9", *args]) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"error: {place}" in line and message in line


@pytest.mark.parametrize(
    ("code", "raised"), [("raise KeyboardInterrupt\n", None), ("raise SystemExit(7)\n", 7)]
)
def test_an_interrupt_while_importing_the_strategy_is_not_a_usage_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: str,
    raised: int | None,
) -> None:
    """Ctrl-C (130) and ``sys.exit`` in the module are not turned into its import error."""
    (tmp_path / "tw_interrupt.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = ["backtest", "--strategy", "tw_interrupt:X", "--out", str(tmp_path / "o"), *SMALL]
    if raised is None:
        assert main(argv) == 130
    else:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == raised
    assert "cannot import" not in capsys.readouterr().err


def test_user_ref_nums_exhausted_names_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every other config error names the file; this one (found during the run) did not."""
    cfg = tmp_path / "bt.toml"
    cfg.write_text("[backtest]\nfirst_user_ref_num = 4294967295\n")
    assert main(["backtest", "--config", str(cfg), "--out", str(tmp_path / "o"), *SMALL]) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"error: {cfg}: backtest.first_user_ref_num: 4294967295 leaves too few" in line


@pytest.mark.parametrize(
    ("symbol", "needle"),
    [
        ("", "symbol '' is empty"),
        ("   ", "symbol '   ' is empty"),
        ("AAPL,,MSFT", "symbol '' is empty"),
        ("AAPL,", "symbol '' is empty"),
        ("ABCDEFGHI", "symbol 'ABCDEFGHI' is longer than the 8 bytes of the ITCH stock field"),
        ("BRK B", "symbol 'BRK B' must be printable ASCII with no space inside"),
        ("ÄPPL", "symbol 'ÄPPL' must be printable ASCII"),
    ],
)
def test_export_refuses_a_symbol_no_feed_can_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], symbol: str, needle: str
) -> None:
    """``--symbol ""`` exited 0 with an empty bbo.csv (an unknown symbol is exit 1, "not
    found in the data"); refused while parsing, before the day is read."""
    out = tmp_path / "ex"
    argv = ["export", "--symbol", "AAPL", "--symbol", symbol, "--out", str(out)]
    assert main([*argv, "--messages", "3000", "--symbols", "5"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "argument --symbol: " in line and needle in line
    assert not (out / "bbo.csv").exists()


def test_html_symbol_is_checked_while_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--html-symbol ""`` was refused only once the day had run."""
    argv = ["backtest", "--html", str(tmp_path / "r.html"), "--html-symbol", " "]
    assert main([*argv, "--out", str(tmp_path / "o"), *SMALL]) == 2
    assert "argument --html-symbol: symbol ' ' is empty" in _error_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


#: A strategy module of the strategy-failure tests: each class fails its own way.
FAILING_STRATEGIES = """
import sys
from tickwire.engine.strategy import Strategy

class ExitInCallback(Strategy):
    async def on_book(self, update):
        sys.exit(0)

class ExitOnStart(Strategy):
    async def on_start(self, ctx):
        sys.exit(3)

class ValueErrorInCallback(Strategy):
    async def on_book(self, update):
        raise ValueError("bad quote")

class DecodeErrorInCallback(Strategy):
    async def on_book(self, update):
        from tickwire.itch import DecodeError

        raise DecodeError("my model's own bytes", offset=7)

class BuildRuntimeError(Strategy):
    def __init__(self, config=None):
        raise RuntimeError("no model file")

class BuildKeyError(Strategy):
    def __init__(self, config=None):
        raise KeyError("k")

class BuildExit(Strategy):
    def __init__(self, config=None):
        sys.exit(0)
"""


@pytest.fixture
def failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The module of :data:`FAILING_STRATEGIES` on ``sys.path`` (its name)."""
    folder = tmp_path / "failing"
    folder.mkdir()
    (folder / "tw_failing.py").write_text(FAILING_STRATEGIES)
    monkeypatch.syspath_prepend(str(folder))
    return "tw_failing"


@pytest.mark.parametrize("backend", ["reference", "compiled"])
@pytest.mark.parametrize(("cls", "code"), [("ExitInCallback", 0), ("ExitOnStart", 3)])
def test_a_strategy_that_calls_sys_exit_fails_the_run(
    tmp_path: Path,
    failing: str,
    capsys: pytest.CaptureFixture[str],
    backend: str,
    cls: str,
    code: int,
) -> None:
    """``sys.exit(0)`` in a callback ended ``backtest`` with exit 0, no report and no
    error: now it fails the run as a ``ValueError`` in a callback does (exit 1, one line,
    no report), naming the strategy and the exit code."""
    out = tmp_path / "o"
    argv = ["backtest", "--strategy", f"{failing}:{cls}", "--backend", backend]
    assert main([*argv, "--out", str(out), *SMALL]) == 1
    line = _error_line(capsys.readouterr().err)
    assert f"error: strategy {failing}:{cls} raised SystemExit({code}) in a callback" in line
    assert not (out / "report.json").exists()
    # the path it follows: a strategy's ValueError in a callback
    assert main([*argv[:2], f"{failing}:ValueErrorInCallback", "--out", str(out), *SMALL]) == 1
    assert _error_line(capsys.readouterr().err).endswith("error: bad quote")
    assert not (out / "report.json").exists()


@pytest.mark.parametrize(
    ("cls", "error"),
    [
        ("ValueErrorInCallback", "bad quote"),
        ("DecodeErrorInCallback", "my model's own bytes (at byte offset 7)"),
    ],
)
@pytest.mark.parametrize("backend", ["reference", "cython", "compiled"])
def test_a_strategy_error_over_a_file_is_not_said_to_be_the_files(
    tmp_path: Path,
    failing: str,
    capsys: pytest.CaptureFixture[str],
    backend: str,
    cls: str,
    error: str,
) -> None:
    """An error reading or decoding a DATA file names it (``tests/test_cli_bad_input.py``,
    ``test_an_unreadable_itch_file_is_named_in_the_error``); a strategy's error in a
    callback, raised while the same file is read (inside the compiled core's feed, for
    ``compiled``), is the strategy's: its line is as it was, without the file's name. A
    ``tickwire.itch.DecodeError`` of the strategy's own too: the compiled core said it
    was the file's (``day.itch: my model's own bytes ...``, its offset moved by the
    chunks fed before); only the framing's are (``_cbook.FRAMING``)."""
    day = tmp_path / "day.itch"
    with BinaryFileWriter(day) as w:
        w.write_all(generate_day(3000, 5, 1))
    argv = ["backtest", str(day), "--strategy", f"{failing}:{cls}"]
    argv += ["--backend", backend, "--out", str(tmp_path / "o"), "--no-plot", "--quiet"]
    assert main(argv) == 1
    line = _error_line(capsys.readouterr().err)
    assert line == f"tickwire-engine backtest: error: {error}", line


@pytest.mark.parametrize(
    ("cls", "error"),
    [
        ("BuildRuntimeError", "RuntimeError: no model file"),
        ("BuildKeyError", "KeyError: 'k'"),
        ("BuildExit", "SystemExit(0)"),
    ],
)
@pytest.mark.parametrize("command", ["backtest", "live"])
def test_a_strategy_constructor_that_fails_is_one_line(
    tmp_path: Path,
    failing: str,
    capsys: pytest.CaptureFixture[str],
    command: str,
    cls: str,
    error: str,
) -> None:
    """A constructor raising anything but ValueError/TypeError was a traceback (exit 1),
    and ``sys.exit(0)`` in it ended the command with exit 0: now one line naming the
    strategy and the error, exit 2 (a configuration error: nothing has run)."""
    out = tmp_path / "o"
    spec = ["--strategy", f"{failing}:{cls}"]
    if command == "backtest":
        argv = ["backtest", *spec, "--out", str(out), *SMALL]
    else:
        argv = ["live", "--feed", "127.0.0.1:0", "--ouch", "127.0.0.1:9", *spec]
    assert main(argv) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"error: strategy {failing}:{cls}: cannot be built: {error}" in line
    assert not out.exists()
