"""Config dir, profiles, TOML read/write, env precedence: the only code touching the file."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instantly_cli.errors import ConfigError, MissingKeyError, UsageError

APP_NAME = "instantly-cli"
DEFAULT_BASE_URL = "https://api.instantly.ai"
DEFAULT_PROFILE = "default"
SANDBOX_KEY = "sandbox"
PROFILE_KEYS = ("api_key", "base_url", "workspace")


def config_dir() -> Path:
    env = os.environ.get("INSTANTLY_CONFIG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def config_path() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    """Where the sandbox keeps its state (env ``INSTANTLY_DATA_DIR`` overrides)."""
    env = os.environ.get("INSTANTLY_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def state_dir() -> Path:
    """Run journals and failure files of bulk runs (env ``INSTANTLY_STATE_DIR`` overrides)."""
    env = os.environ.get("INSTANTLY_STATE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME))


def sandbox_state_path() -> Path:
    return data_dir() / "sandbox.sqlite3"


@dataclass
class Profile:
    name: str
    api_key: str | None = None
    base_url: str | None = None
    workspace: str | None = None

    def to_toml(self) -> dict[str, str]:
        return {k: v for k in PROFILE_KEYS if (v := getattr(self, k))}


@dataclass
class Config:
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


def load_config() -> Config:
    """Read the config file; a missing file is an empty config, a broken one exits 2."""
    path = config_path()
    cfg = Config(path=path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return cfg
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    import tomllib  # lazily: --help never reads the config

    cfg.exists = True
    try:
        st = path.stat()
        cfg.too_open = bool(st.st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        pass
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
        cfg.profiles[name] = Profile(
            name=name,
            **{k: _str_or_none(body.get(k), f"profiles.{name}.{k}", path) for k in PROFILE_KEYS},
        )
    return cfg


def save_config(cfg: Config) -> None:
    """Write atomically (temp file + os.replace): file 0600 in a 0700 folder, whatever the umask."""
    import tempfile

    import tomli_w

    folder = cfg.path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    doc: dict[str, Any] = {"default_profile": cfg.default_profile, "profiles": {}}
    for name, profile in sorted(cfg.profiles.items()):
        doc["profiles"][name] = profile.to_toml()
    payload = tomli_w.dumps(doc).encode("utf-8")
    # mkstemp creates the file 0600 regardless of umask, so the key is never briefly readable.
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, cfg.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    cfg.exists = True
    cfg.too_open = False


def mask(key: str | None) -> str:
    """Show only the last 4 characters of a key (nothing of a short one)."""
    if not key:
        return ""
    return "****" + key[-4:] if len(key) >= 12 else "****"


@dataclass
class GlobalOptions:
    """What the root callback parsed; commands resolve it into :class:`Settings` when needed."""

    profile: str | None = None
    base_url: str | None = None
    workspace: str | None = None
    sandbox: bool = False
    verbose: bool = False


@dataclass
class Settings:
    profile: str
    api_key: str | None
    key_source: str | None  # "env", "config", "sandbox" or None
    base_url: str
    workspace: str | None
    sandbox: bool
    verbose: bool
    config: Config

    def require_key(self) -> str:
        if not self.api_key:
            raise MissingKeyError(f"No API key for profile '{self.profile}'.")
        return self.api_key


def check_key(key: str, where: str) -> str:
    """Strip stray surrounding white space (a key file's line end); refuse anything a header
    cannot carry, before it reaches the network or an error message."""
    key = key.strip()
    if not key or not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise UsageError(
            f"The API key from {where} contains spaces, control or non-ASCII characters.",
            hint="Copy the key again exactly as Instantly shows it; `instantly auth login` "
            "checks it before saving.",
        )
    return key


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def resolve(opts: GlobalOptions, *, allow_new_profile: bool = False) -> Settings:
    """Apply precedence: flags > env > profile > defaults; the key: env > profile."""
    from instantly_cli.errors import register_secret

    cfg = load_config()
    explicit = opts.profile or os.environ.get("INSTANTLY_PROFILE") or None
    name = explicit or cfg.default_profile
    profile = cfg.profiles.get(name)
    if profile is None:
        if explicit and not allow_new_profile and cfg.profiles:
            raise UsageError(
                f"Unknown profile '{name}'.",
                hint=f"Profiles in {cfg.path}: {', '.join(sorted(cfg.profiles))}.",
            )
        profile = Profile(name=name)
    sandbox = opts.sandbox or _env_flag("INSTANTLY_SANDBOX")
    env_key = os.environ.get("INSTANTLY_API_KEY") or None
    if sandbox:
        key, source = SANDBOX_KEY, "sandbox"
    elif env_key:
        key, source = env_key, "env"
    elif profile.api_key:
        key, source = profile.api_key, "config"
    else:
        key, source = None, None
    register_secret(key if source != "sandbox" else None)
    register_secret(profile.api_key)
    if key is not None and source != "sandbox":
        key = check_key(key, "INSTANTLY_API_KEY" if source == "env" else f"profile '{name}'")
    base_url = (
        opts.base_url
        or os.environ.get("INSTANTLY_BASE_URL")
        or profile.base_url
        or DEFAULT_BASE_URL
    )
    if not base_url.startswith(("http://", "https://")):
        raise UsageError(
            f"Invalid base URL '{base_url}'.",
            hint="Use a full URL such as https://api.instantly.ai.",
        )
    workspace = opts.workspace or os.environ.get("INSTANTLY_WORKSPACE") or profile.workspace
    return Settings(
        profile=name,
        api_key=key,
        key_source=source,
        base_url=base_url.rstrip("/"),
        workspace=workspace or None,
        sandbox=sandbox,
        verbose=opts.verbose,
        config=cfg,
    )
