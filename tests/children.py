"""The environment a subprocess test gives the CLI: the one a user has, not the test machine's.

Machines that run this suite often export ``PYTHONUNBUFFERED=1`` (and sometimes
``PYTHONIOENCODING``); a user's shell or a cron job does not, and without them stdout into a
file or a pipe is block-buffered, which is where writes fail late (at exit) and differently. Every
child is started from :func:`user_env` or :func:`cron_env`, never from ``os.environ`` as is.
"""

from __future__ import annotations

import os
import shutil
import sys

# Set by test machines and CI images, not by a login shell: the first ones change how stdout
# behaves; the last makes every child compile the package again (a user's first run caches it).
NOT_A_USERS = (
    "PYTHONUNBUFFERED",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONLEGACYWINDOWSSTDIO",
    "PYTHONDONTWRITEBYTECODE",
)
# What cron hands a job (Vixie cron / cronie): no locale, no terminal, a two-entry PATH.
CRON_PATH = "/usr/bin:/bin"
CRON_KEPT = ("HOME", "LOGNAME", "USER", "XDG_STATE_HOME")  # the last: conftest's state isolation


def instantly() -> list[str]:
    """The installed ``instantly`` of this environment (the console script users run)."""
    exe = shutil.which("instantly", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "instantly_cli"]


def user_env(**extra: str) -> dict[str, str]:
    """This process's environment as a user's shell would have it: no ``INSTANTLY_*`` from the
    outside, none of the Python variables test machines export; then ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("INSTANTLY_") and k not in NOT_A_USERS
    }
    env.update(extra)
    return env


def cron_env(**extra: str) -> dict[str, str]:
    """A cron job's environment: ``HOME``, ``LOGNAME``, ``SHELL=/bin/sh``, ``PATH=/usr/bin:/bin``
    and nothing else (no ``LANG``/``LC_*``, no ``TERM``, no Python variables); then ``extra``."""
    env = {k: os.environ[k] for k in CRON_KEPT if k in os.environ}
    env.update(PATH=CRON_PATH, SHELL="/bin/sh")
    env.update(extra)
    return env
