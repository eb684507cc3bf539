"""Settings: one frozen value built from defaults, then environment (prefix IMR_), then flags.

Every environment variable the package reads is read here (and `debug_enabled` for IMR_DEBUG,
which the CLI needs even when building Settings fails).
Plain dataclass, not pydantic-settings: fifteen fields with hand-written ConfigError messages
naming the flag that fixes them would not get shorter, and it would add a dependency.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from imr_llm.errors import ConfigError
from imr_llm.letter.load import MAX_INPUT_BYTES, MAX_TEXT_CHARS

__all__ = ["MAX_INPUT_BYTES", "MAX_TEXT_CHARS", "Settings"]

LOCAL_TIMEOUT_S = 600.0
REMOTE_TIMEOUT_S = 120.0


def is_loopback(base_url: str | None) -> bool:
    """True for an endpoint on this machine (127.0.0.0/8, localhost, ::1)."""
    if not base_url:
        return False
    host = (urlsplit(base_url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


Backend = Literal["auto", "rules", "llm"]
BACKENDS: tuple[str, ...] = ("auto", "rules", "llm")
#: Prompt versions in prompts/ the model backend can run; the first is the default.
#: narrative_*: one call per letter for the narrative half; extract_v2: every field.
PROMPTS: tuple[str, ...] = ("narrative_v2", "narrative_v1", "extract_v2")
_TRUE = ("1", "true", "yes")


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imr_llm"


def debug_enabled(env: Mapping[str, str] | None = None) -> bool:
    """IMR_DEBUG set to anything non-empty: the CLI prints tracebacks."""
    return bool((os.environ if env is None else env).get("IMR_DEBUG"))


def progress_forced(env: Mapping[str, str] | None = None) -> bool:
    """IMR_PROGRESS set: draw the batch progress bar even when stderr is not a terminal."""
    return bool((os.environ if env is None else env).get("IMR_PROGRESS"))


def model_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where local GGUF models are assembled: IMR_MODEL_DIR, else the user cache folder."""
    env = os.environ if env is None else env
    if env.get("IMR_MODEL_DIR"):
        return Path(env["IMR_MODEL_DIR"]).expanduser()
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "imr_llm" / "models"


@dataclass(frozen=True)
class Settings:
    """Everything that changes how a letter is summarized."""

    backend: Backend = "auto"
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    use_cache: bool = True
    timeout_s: float | None = None  # None: LOCAL_TIMEOUT_S on loopback, else REMOTE_TIMEOUT_S
    transport_attempts: int = 4
    reask_attempts: int = 2
    max_items_per_call: int = 6
    temperature: float = 0.0
    max_tokens: int = 2048
    max_cost_usd: float | None = None
    requests_per_minute: float | None = None
    log_letter_text: bool = False
    prompt: str = PROMPTS[0]
    strict: bool = False  # model backend: ExtractionError instead of anchored fallback
    prices_path: Path | None = None  # a JSON price table extending the built-in one
    mode: str | None = None  # an instructor mode name (JSON, TOOLS, ...); None: by endpoint

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then IMR_* / OPENAI_API_KEY from `env`, then non-None `overrides`."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        if env.get("IMR_BACKEND"):
            values["backend"] = env["IMR_BACKEND"]
        if env.get("IMR_MODEL"):
            values["model"] = env["IMR_MODEL"]
        if env.get("IMR_BASE_URL"):
            values["base_url"] = env["IMR_BASE_URL"]
        key = env.get("IMR_API_KEY") or env.get("OPENAI_API_KEY")
        if key:
            values["api_key"] = key
        if env.get("IMR_CACHE_DIR"):
            values["cache_dir"] = Path(env["IMR_CACHE_DIR"])
        if env.get("IMR_NO_CACHE", "").lower() in _TRUE:
            values["use_cache"] = False
        if env.get("IMR_TIMEOUT"):
            values["timeout_s"] = _number("IMR_TIMEOUT", env["IMR_TIMEOUT"])
        if env.get("IMR_MAX_COST"):
            values["max_cost_usd"] = _number("IMR_MAX_COST", env["IMR_MAX_COST"])
        if env.get("IMR_RPM"):
            values["requests_per_minute"] = _number("IMR_RPM", env["IMR_RPM"])
        if env.get("IMR_MAX_TOKENS"):
            values["max_tokens"] = int(_number("IMR_MAX_TOKENS", env["IMR_MAX_TOKENS"]))
        if env.get("IMR_REASKS"):
            values["reask_attempts"] = int(_number("IMR_REASKS", env["IMR_REASKS"]))
        if env.get("IMR_STRICT", "").lower() in _TRUE:
            values["strict"] = True
        if env.get("IMR_LOG_LETTER_TEXT", "").lower() in _TRUE:
            values["log_letter_text"] = True
        if env.get("IMR_PRICES"):
            values["prices_path"] = Path(env["IMR_PRICES"])
        if env.get("IMR_MODE"):
            values["mode"] = env["IMR_MODE"]
        if env.get("IMR_PROMPT"):
            values["prompt"] = env["IMR_PROMPT"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def with_(self, **changes: Any) -> Settings:
        """A copy with `changes` applied (None values ignored); itself when nothing changes."""
        given = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **given) if given else self  # frozen: sharing it is safe

    def check(self) -> None:
        """Raise ConfigError for values that can never work."""
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"unknown backend {self.backend!r}: use one of {', '.join(BACKENDS)} "
                "(--backend or IMR_BACKEND)"
            )
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ConfigError("timeout must be positive: fix --timeout or IMR_TIMEOUT")
        if self.requests_per_minute is not None and self.requests_per_minute <= 0:
            raise ConfigError("requests per minute must be positive: fix --rpm or IMR_RPM")
        if self.max_tokens < 16:
            raise ConfigError("max tokens must be at least 16: fix --max-tokens or IMR_MAX_TOKENS")
        if self.reask_attempts < 0:
            raise ConfigError("reasks cannot be negative: fix --reasks or IMR_REASKS")
        if self.prompt not in PROMPTS:
            raise ConfigError(f"unknown prompt {self.prompt!r}: use one of {', '.join(PROMPTS)} "
                              "(--prompt or IMR_PROMPT)")

    @property
    def request_timeout_s(self) -> float:
        """Seconds per model request: the flag/env value, else a default that fits the endpoint.

        A 1.5B model on 2 CPU cores takes about a minute for one letter and several for the
        longest, so a loopback endpoint gets LOCAL_TIMEOUT_S; a hosted API REMOTE_TIMEOUT_S.
        """
        if self.timeout_s is not None:
            return self.timeout_s
        return LOCAL_TIMEOUT_S if is_loopback(self.base_url) else REMOTE_TIMEOUT_S

    @property
    def model_configured(self) -> bool:
        """True when a model backend could be used (a model name is set)."""
        return bool(self.model)

    def resolved_backend(self) -> Literal["rules", "llm"]:
        """`auto` means the model backend when a model is configured, else rules."""
        if self.backend == "auto":
            return "llm" if self.model_configured else "rules"
        return self.backend


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number: set it to e.g. 30") from None
