"""``tickwire.cli.Progress``: rich bars on a terminal only, with totals and ETA."""

from __future__ import annotations

import io

from tickwire.cli import Progress


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_drawn_when_the_stream_is_not_a_terminal() -> None:
    quiet = io.StringIO()
    with Progress(100, "x", stream=quiet) as bar:
        bar.update(50)
        bar.print("a line")
    assert bar.done == 50
    assert quiet.getvalue() == "a line\n"  # lines still go out; the bar does not


def test_a_bar_with_a_total_shows_the_count_the_percentage_and_the_time_left() -> None:
    tty = FakeTty()
    with Progress(1000, "decoding", stream=tty, unit="msg") as bar:
        bar.update(500)
        bar.update(500)
    text = tty.getvalue()
    assert "decoding" in text
    assert "1000/1000" in text and "msg" in text
    assert "100%" in text
    assert "0:00:00" in text  # elapsed and remaining columns


def test_bytes_are_shown_in_units_with_a_transfer_rate() -> None:
    tty = FakeTty()
    with Progress(2_000_000, "day.itch", stream=tty) as bar:
        bar.set(2_000_000)
    text = tty.getvalue()
    assert "2.0/2.0 MB" in text


def test_a_redraw_never_leaves_the_longer_line_behind() -> None:
    """The hand-written bar wrote ``\\r`` + a shorter line over a longer one and left its
    tail on screen (``7.5MB/ss``); rich clears the line it redraws."""
    tty = FakeTty()
    with Progress(None, "x", stream=tty) as bar:
        bar.set(7_500_000)
        bar.set(10)
    assert "B/ss" not in tty.getvalue()
    assert "\x1b[2K" in tty.getvalue() or "\r" not in tty.getvalue()


def test_an_unknown_total_counts_and_ends_at_the_count() -> None:
    tty = FakeTty()
    with Progress(None, "replay", stream=tty, unit="pkt") as bar:
        bar.update(1234)
    assert "1234/1234" in tty.getvalue()
    assert bar.total is None


def test_print_goes_above_a_shown_bar() -> None:
    tty = FakeTty()
    with Progress(3, "sweep", stream=tty, unit="runs") as bar:
        bar.print("sweep: day1 p0 failed: boom")
        bar.update(3)
    assert "sweep: day1 p0 failed: boom" in tty.getvalue()
