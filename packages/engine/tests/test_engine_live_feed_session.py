"""``live --feed-session NAME`` / ``[feed] session`` pin the feed's MoldUDP64 session."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from tickwire.engine.cli_backtest import UsageError
from tickwire.engine.cli_live import _feed_session, add_parser


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["live", *argv])


def test_the_flag_or_the_config_table_names_the_session(tmp_path: Path) -> None:
    assert _feed_session(_args()) is None  # not pinned: the first session two packets confirm
    assert _feed_session(_args("--feed-session", "TWFEED0001")) == "TWFEED0001"
    toml = tmp_path / "live.toml"
    toml.write_text('[feed]\nsession = "NSDQ000001"\n')
    assert _feed_session(_args("--config", str(toml))) == "NSDQ000001"
    # the flag wins over the file
    assert _feed_session(_args("--config", str(toml), "--feed-session", "X")) == "X"


@pytest.mark.parametrize(
    ("argv", "toml", "message"),
    [
        (["--feed-session", "ELEVENCHARS"], None, "longer than 10"),
        (["--feed-session", "S\u00e9"], None, "not ASCII"),
        ([], "[feed]\nsession = 7\n", "must be a string"),
        ([], '[feed]\nsesion = "X"\n', "live.toml: feed.sesion: unknown key"),
        (
            [],
            '[feed]\nsession = "ELEVENCHARS"\n',
            "live.toml: feed.session: must be at most 10 ASCII characters, got 'ELEVENCHARS'",
        ),
    ],
)
def test_a_bad_feed_session_is_one_usage_error(
    tmp_path: Path, argv: list[str], toml: str | None, message: str
) -> None:
    if toml is not None:
        path = tmp_path / "live.toml"
        path.write_text(toml)
        argv = [*argv, "--config", str(path)]
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        _feed_session(_args(*argv))


def test_the_backtest_accepts_a_config_file_shared_with_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tickwire.engine.cli import main

    cfg = tmp_path / "both.toml"
    # A bad [backtest] value stops the run right after the check of the tables.
    cfg.write_text('[feed]\nsession = "TWFEED0001"\n\n[backtest]\nseed = "abc"\n')
    argv = ["backtest", "--config", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]
    assert main([*argv, "--messages", "3000", "--symbols", "5", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "backtest.seed" in err and "unknown tables" not in err
