"""OUCH login credentials for the command lines: the name on argv, the password never.

A password on the command line is readable by every user of the machine (``ps``,
``/proc/PID/cmdline``) and stays in shell history, so ``exchange`` and ``live`` take
only a user name there (``--user NAME``) and read the password, in this order, from:

1. ``--password-file FILE``: the file's first line (one trailing newline dropped; a
   second line is an error, so a file of several secrets is not half used);
2. the environment variable ``TICKWIRE_OUCH_PASSWORD``;
3. the simulated exchange's demo password, ``SECRET`` (what both commands used before,
   so a local demo needs nothing).

``--user NAME:PASSWORD`` is refused with a one-line error that does not echo the
password.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "PASSWORD_ENV",
    "CredentialError",
    "read_password",
    "user_name",
]

PASSWORD_ENV = "TICKWIRE_OUCH_PASSWORD"
DEFAULT_USER = "TW"
DEFAULT_PASSWORD = "SECRET"
#: SoupBinTCP's Username and Password fields (alphanumeric, space padded).
_MAX_USER = 6
_MAX_PASSWORD = 10


class CredentialError(ValueError):
    """A password source that cannot be used (the message never contains the password)."""


def user_name(text: str) -> str:
    """argparse type of ``--user``: a SoupBinTCP user name, never ``NAME:PASSWORD``."""
    if ":" in text:
        raise argparse.ArgumentTypeError(
            "--user takes a NAME only: a password on the command line is visible in ps and "
            f"shell history; give it in ${PASSWORD_ENV} or --password-file FILE"
        )
    if not text or len(text) > _MAX_USER or not text.isascii() or not text.isalnum():
        raise argparse.ArgumentTypeError(
            f"--user wants 1 to {_MAX_USER} letters or digits, got {text!r}"
        )
    return text


def read_password(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> str:
    """The OUCH password: ``path``'s first line, else ``$TICKWIRE_OUCH_PASSWORD``, else the
    simulated exchange's demo password. Raises :class:`CredentialError` for an unreadable,
    empty or multi-line file and for a password SoupBinTCP cannot carry."""
    env = os.environ if environ is None else environ
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise CredentialError(f"--password-file {path}: {reason}") from None
        if text.endswith("\n"):
            text = text[:-1].removesuffix("\r")
        if "\n" in text:
            raise CredentialError(f"--password-file {path}: more than one line")
        what = f"--password-file {path}"
    elif env.get(PASSWORD_ENV) is not None:
        text = env[PASSWORD_ENV]
        what = f"${PASSWORD_ENV}"
    else:
        return DEFAULT_PASSWORD
    if not text:
        raise CredentialError(f"{what}: the password is empty")
    if len(text) > _MAX_PASSWORD or not text.isascii() or not text.isprintable():
        raise CredentialError(
            f"{what}: a SoupBinTCP password is 1 to {_MAX_PASSWORD} printable ASCII characters"
        )
    return text
