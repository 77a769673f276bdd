"""The backtest's self-contained HTML report (``backtest --html``), opened in headless
Chromium: it renders with no console error, asks for nothing outside ``file://`` (plotly.js
is inlined), and shows the run's numbers. Debian's ``chromium`` (``scripts/setup.sh``) is
driven by Playwright's Python package; no browser is downloaded."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine.cli_backtest import main

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DAY = ["--messages", "30000", "--symbols", "20", "--no-plot", "--quiet"]


def _usd(e4: int) -> str:
    return f"{'-' if e4 < 0 else ''}${abs(e4) / 1e4:,.2f}"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("html")
    cfg = d / "fees.toml"
    cfg.write_text("[fees]\nremove_per_share = 30\nadd_per_share = -20\n")
    page = d / "report.html"
    rc = main(
        ["backtest", *DAY, "--config", str(cfg), "--out", str(d / "out"), "--html", str(page)]
    )
    assert rc == 0
    report = json.loads((d / "out" / "report.json").read_text())
    return {"page": page, "report": report, "dir": d}


def test_engine_backtest_html_is_one_self_contained_file(made: dict[str, Any]) -> None:
    text = made["page"].read_text(encoding="utf-8")
    assert made["report"]["runtime"]["html"] == str(made["page"])
    assert not re.search(r"<script[^>]*\bsrc=", text)  # plotly.js inlined, nothing fetched
    assert "<link" not in text
    assert text.count('class="plotly-graph-div"') == 3


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (scripts/setup.sh)")
def test_engine_backtest_html_renders_in_chromium(made: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    report = made["report"]
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda m: (
                    problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(made["page"].resolve().as_uri(), wait_until="load")
            for i in range(3):  # every figure drew its SVG
                page.wait_for_selector(f"#figure-{i} .main-svg", timeout=60_000)
            body = page.inner_text("body")
            traces = page.evaluate(
                "() => [0, 1, 2].map(i => document.getElementById('figure-' + i).data.length)"
            )
        finally:
            browser.close()
    assert problems == []
    assert requests and all(u.startswith("file://") for u in requests), requests
    pnl = report["pnl"]
    assert pnl["fees_e4"] != 0  # the fees schedule is in play
    for figure in (
        _usd(pnl["total_e4"]),
        _usd(pnl["gross_e4"]),
        _usd(pnl["fees_e4"]),
        f"{report['fills']['count']:,}",
        f"{report['statistics']['sharpe']:,.2f}",
    ):
        assert figure in body, figure
    most = min(report["symbols"], key=lambda s: (-report["symbols"][s]["fills"], s))
    assert f"Fills on {most.rstrip()}" in body
    assert traces[0] == 3 and traces[1] >= 3 and traces[2] == 2  # curves, price+fills, histos


def test_engine_backtest_html_symbol_is_chosen(tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    out = tmp_path / "out"
    assert main(["backtest", *DAY, "--out", str(out), "--html", str(page)]) == 0
    symbols = json.loads((out / "report.json").read_text())["symbols"]
    least = min(symbols, key=lambda s: symbols[s]["fills"]).rstrip()
    assert (
        main(["backtest", *DAY, "--out", str(out), "--html", str(page), "--html-symbol", least])
        == 0
    )
    assert f"Fills on {least}" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--html-symbol", "AAPL"], "--html-symbol needs --html PATH"),
        (
            ["--html", "{tmp}/r.html", "--html-symbol", "NOPE"],
            "--html-symbol NOPE: no fills or marks",
        ),
        (["--html", "{tmp}"], "is a directory"),
    ],
)
def test_engine_backtest_html_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    rc = main(
        [
            "backtest",
            "--messages",
            "5000",
            "--symbols",
            "5",
            "--no-plot",
            "--quiet",
            "--out",
            str(tmp_path / "out"),
            *args,
        ]
    )
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if ": error: " in line]  # after a usage
    assert rc == 2 and len(errors) == 1 and message in errors[0], err
    assert not (tmp_path / "r.html").exists()  # nothing half-made under the asked-for name
    if message == "is a directory":  # an output_file: refused before the run
        assert not (tmp_path / "out").exists()


def test_engine_backtest_html_without_plotly_says_how_before_running(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["plotly"] = None  # as if the html extra were not installed
        from tickwire.engine.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    page = tmp_path / "r.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "backtest",
            "--messages",
            "5000",
            "--symbols",
            "5",
            "--out",
            str(tmp_path / "out"),
            "--html",
            str(page),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "--html: plotly cannot be imported" in proc.stderr
    assert "pip install 'tickwire-engine[html]'" in proc.stderr
    assert "Traceback" not in proc.stderr and not page.exists()
    assert not (tmp_path / "out").exists()  # refused before the run
