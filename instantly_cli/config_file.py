"""The config file: where it is, what it holds, and the only code that reads or writes it.

Hardened because it holds API keys: read without blocking (a FIFO or a device in its place is
refused), written under a lock, atomically (temp file + ``os.replace``), 0600 in a 0700 folder,
through a symlink to its target.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instantly_cli.errors import ConfigError

APP_NAME = "instantly-cli"
DEFAULT_PROFILE = "default"
# The string keys of a profile, then the rest (each with its own type and check below).
STRING_KEYS = ("api_key", "base_url", "workspace")
PROFILE_KEYS = (*STRING_KEYS, "notify", "at_risk_below", "watch_below")


def user_dir(env: str, kind: str) -> Path:
    """``$env`` when set, else the platform's user folder of ``kind`` (config, data, state)."""
    given = os.environ.get(env)
    if given:
        return Path(given)
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME))


def config_dir() -> Path:
    return user_dir("INSTANTLY_CONFIG_DIR", "config")


def config_path() -> Path:
    return config_dir() / "config.toml"


# No generated __repr__ (it would print the API key) or __eq__ (nothing compares these), and a
# docstring (else dataclass builds one from the signature): the class is built ~4x faster, which
# every command pays at start-up.
@dataclass(repr=False, eq=False)
class Profile:
    """One profile of the config file."""

    name: str
    api_key: str | None = None
    base_url: str | None = None
    workspace: str | None = None
    # Webhook URLs `accounts diff`/`summary` POST to when no --notify is given.
    notify: list[str] | None = None
    # Health-class thresholds when no --at-risk-below/--watch-below is given.
    at_risk_below: float | None = None
    watch_below: float | None = None

    def to_toml(self) -> dict[str, Any]:
        # `is not None`/`!= []`: a threshold of 0 is a value, an empty string or list is none.
        return {k: v for k in PROFILE_KEYS if (v := getattr(self, k)) not in (None, "", [])}


@dataclass(repr=False, eq=False)
class Config:
    """The config file: its profiles and the default one."""

    path: Path
    default_profile: str = DEFAULT_PROFILE
    profiles: dict[str, Profile] = field(default_factory=dict)
    exists: bool = False
    # True when group/other can read the file: the caller warns.
    too_open: bool = False


def _str_or_none(value: object, where: str, path: Path) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise ConfigError(f"{path}: {where} must be a string, not {type(value).__name__}.")


def _urls_or_none(value: object, where: str, path: Path) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {where} must be a list of URL strings.",
                          hint=f'For example: {where.rpartition(".")[2]} = '
                          '["https://hooks.slack.com/services/T000/B000/XXX"]')
    for url in value:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{path}: {where} holds '{url}', not an http(s) URL.",
                              hint="Give full http(s) URLs, e.g. Slack incoming webhooks.")
    return list(value) or None


def _score_or_none(value: object, where: str, path: Path) -> float | None:
    import math

    if value is None:
        return None
    # bool is an int to Python, not a score to anyone.
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not (math.isfinite(value) and 0 <= value <= 101):
        raise ConfigError(f"{path}: {where} must be a score from 0 to 101 (got {value!r}).",
                          hint="Scores run from 0 to 100; 101 puts every score below the line.")
    return float(value)


# A config file is a few hundred bytes; anything this big is not one (or is a device).
MAX_CONFIG_BYTES = 1 << 20


_NOT_REGULAR_HINT = (
    "The config must be a regular file: remove what is there, or set INSTANTLY_CONFIG_DIR "
    "to another folder."
)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _read_file(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The file's bytes, or None when there is none. Never blocks: a FIFO, a device or a folder
    in its place is refused after a non-blocking open, before anything is read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(
                f"Cannot read {path}: it is {_kind(st.st_mode)}, not a regular file.",
                hint=_NOT_REGULAR_HINT,
            )
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"Cannot read {path}: {st.st_size} bytes is too large for a config file."
            )
        chunks: list[bytes] = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks), st
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    finally:
        os.close(fd)


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file is an empty config, a broken one exits 2."""
    path = path or config_path()
    cfg = Config(path=path)
    found = _read_file(path)
    if found is None:
        return cfg
    raw, st = found
    import tomllib  # lazily: --help never reads the config

    cfg.exists = True
    cfg.too_open = bool(st.st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    default = data.get("default_profile", DEFAULT_PROFILE)
    if not isinstance(default, str) or not default:
        raise ConfigError(f"{path}: default_profile must be a non-empty string.")
    cfg.default_profile = default
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: [profiles] must be a table.")
    for name, body in profiles.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: [profiles.{name}] must be a table.")
        unknown = sorted(set(body) - set(PROFILE_KEYS))
        if unknown:
            raise ConfigError(
                f"{path}: unknown key '{unknown[0]}' in [profiles.{name}].",
                hint=f"Profiles take: {', '.join(PROFILE_KEYS)}.",
            )
        where = f"profiles.{name}."
        profile = Profile(
            name=name,
            **{k: _str_or_none(body.get(k), where + k, path) for k in STRING_KEYS},
            notify=_urls_or_none(body.get("notify"), where + "notify", path),
            at_risk_below=_score_or_none(body.get("at_risk_below"), where + "at_risk_below", path),
            watch_below=_score_or_none(body.get("watch_below"), where + "watch_below", path),
        )
        low, high = profile.at_risk_below, profile.watch_below
        if low is not None and high is not None and low > high:
            raise ConfigError(
                f"{path}: {where}at_risk_below ({low:g}) is above watch_below ({high:g}).",
                hint="At risk is the lower band: for example at_risk_below = 50, "
                "watch_below = 80.",
            )
        cfg.profiles[name] = profile
    return cfg


def _write_error(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"Cannot write {path}: {exc.strerror or exc}.",
        hint=f"Make {path.parent} writable by you, or set INSTANTLY_CONFIG_DIR to a folder "
        "that is.",
    )


def _ensure_folder(folder: Path) -> None:
    """Create the folder 0700; an existing one loses group/other access, nothing else (a folder
    the user made read-only stays so, and the write fails with a clear error)."""
    try:
        if folder.is_dir():
            mode = stat.S_IMODE(folder.stat().st_mode)
            if mode & 0o077:
                os.chmod(folder, mode & 0o700)
        else:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(folder, 0o700)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the config folder {folder}: {exc.strerror or exc}.",
            hint="Set INSTANTLY_CONFIG_DIR to a folder you can write, or fix that path.",
        ) from None


LOCK_TIMEOUT = 10.0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of ``path``.

    The lock is a ``config.toml.lock`` file (0600) beside the config, removed by its holder on
    release; a waiter that then wins a removed file sees the inode changed and tries again.
    """
    try:
        import fcntl
    except ImportError:  # no flock on this platform: the atomic write still holds
        yield
        return
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + LOCK_TIMEOUT
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    while True:
        try:
            fd = os.open(lock, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise _write_error(lock, exc) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(
                    f"Cannot lock {lock}: it is {_kind(st.st_mode)}, not a regular file.",
                    hint=f"Remove {lock}; instantly creates it while it writes the config.",
                )
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ConfigError(
                            f"Another instantly process has held {lock} for "
                            f"{LOCK_TIMEOUT:.0f} s.",
                            hint=f"Wait for it to finish; if none is running, remove {lock}.",
                        ) from None
                    time.sleep(0.01)
            try:
                same = os.stat(lock).st_ino == st.st_ino
            except FileNotFoundError:
                same = False
            if not same:  # its holder removed it after we opened it: take the new one
                os.close(fd)
                continue
        except BaseException:
            os.close(fd)
            raise
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                lock.unlink()
            os.close(fd)
        return


def _write_target(path: Path) -> Path:
    """The file to replace: ``path``, or the final target when ``path`` is a symlink (the link
    stays a link; the file it points at gets the new content)."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:  # a dangling link: create its target
        return Path(os.path.realpath(path))
    except OSError as exc:
        raise ConfigError(
            f"Cannot write {path}: {exc.strerror or exc} (a symlink that never ends).",
            hint=f"Point {path} at a regular file, or remove it.",
        ) from None


def _write(cfg: Config) -> None:
    """Write atomically (temp file + os.replace) next to the real file, 0600 whatever the umask."""
    import tomli_w

    target = _write_target(cfg.path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _write_error(target, exc) from None
    else:
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(
                f"Cannot write {target}: it is {_kind(st.st_mode)}, not a regular file.",
                hint=_NOT_REGULAR_HINT,
            )
    doc: dict[str, Any] = {"default_profile": cfg.default_profile, "profiles": {}}
    for name, profile in sorted(cfg.profiles.items()):
        doc["profiles"][name] = profile.to_toml()
    try:
        atomic_write(target, tomli_w.dumps(doc), prefix=".config-")
    except OSError as exc:
        raise _write_error(target, exc) from None


def atomic_write(path: Path, text: str, *, prefix: str = ".instantly-") -> None:
    """Replace ``path`` with ``text`` (UTF-8) whole or not at all, the file 0600.

    A temp file beside it (``mkstemp`` creates it 0600 whatever the umask, so a key is never
    briefly readable), flushed to disk, then ``os.replace``. Whatever fails (a full disk, a
    folder in the way, Ctrl-C), the temp file is removed and the error raised."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update_config(change: Callable[[Config], None], path: Path | None = None) -> Config:
    """Lock, re-read the file, apply ``change`` to what it holds now, write it; the result.

    The one way to edit the config: two processes editing at once both keep their change, as
    if they had run one after the other. Written atomically, file 0600 in a 0700 folder,
    through a symlink to its target. An error raised by ``change`` leaves the file as it was.
    """
    path = path or config_path()
    _ensure_folder(path.parent)
    with _locked(path):
        cfg = load_config(path)
        change(cfg)
        _write(cfg)
    cfg.exists = True
    cfg.too_open = False
    return cfg


