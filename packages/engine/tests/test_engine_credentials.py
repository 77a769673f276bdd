"""OUCH passwords reach ``live`` (and tickwire-exchange's ``exchange``) from a file or the
environment, never from argv (where ``ps`` and shell history show them)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from tickwire.engine.credentials import (
    DEFAULT_PASSWORD,
    PASSWORD_ENV,
    CredentialError,
    read_password,
    user_name,
)

ENGINE = [sys.executable, "-m", "tickwire.engine"]


def test_read_password_file_then_environment_then_the_demo_default(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("FromFile1\n")
    assert read_password(f, {PASSWORD_ENV: "FromEnv"}) == "FromFile1"  # the file wins
    f.write_text("Crlf2\r\n")
    assert read_password(f, {}) == "Crlf2"
    assert read_password(None, {PASSWORD_ENV: "FromEnv"}) == "FromEnv"
    assert read_password(None, {}) == DEFAULT_PASSWORD


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("\n", "empty"),
        ("one\ntwo\n", "more than one line"),
        ("elevenchars", "1 to 10 printable ASCII"),
        ("tab\there", "printable"),
    ],
)
def test_read_password_refuses_a_file_it_cannot_use(
    tmp_path: Path, content: str, match: str
) -> None:
    f = tmp_path / "pw"
    f.write_text(content)
    with pytest.raises(CredentialError, match=match) as info:
        read_password(f, {})
    assert str(info.value).startswith(f"--password-file {f}: ")
    with pytest.raises(CredentialError, match="No such file"):
        read_password(tmp_path / "missing", {})
    with pytest.raises(CredentialError, match=f"\\${PASSWORD_ENV}: the password is empty"):
        read_password(None, {PASSWORD_ENV: ""})


def test_user_refuses_a_password_without_echoing_it() -> None:
    assert user_name("ALICE") == "ALICE"
    with pytest.raises(argparse.ArgumentTypeError) as info:
        user_name("TW:Hunter2")
    assert "Hunter2" not in str(info.value) and PASSWORD_ENV in str(info.value)
    with pytest.raises(argparse.ArgumentTypeError, match="1 to 6 letters"):
        user_name("TOOLONGNAME")


def test_live_refuses_a_password_on_the_command_line() -> None:
    """(The exchange's side: tickwire-exchange's test_exchange_cli.py.)"""
    cmd = ["live", "--feed", "127.0.0.1:9", "--ouch", "127.0.0.1:9", "--user", "TW:Hunter2"]
    done = subprocess.run([*ENGINE, *cmd], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "password on the command line" in done.stderr
    assert "Hunter2" not in done.stderr + done.stdout
    done = subprocess.run(
        [*ENGINE, "live", "--feed", "127.0.0.1:9", "--ouch", "127.0.0.1:9",
         "--password-file", "/nonexistent/pw"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2  # checked while parsing (the file is an input: secret_file)
    assert done.stderr.strip().endswith(
        "tickwire-engine live: error: argument --password-file: /nonexistent/pw: no such file"
    )
