"""Versioned prompt files from prompts/, loaded and rendered. Never edited in place: a change
to a prompt is a new file (extract_v2.md) and a new PROMPT_VERSION, which changes cache keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from imr_llm.errors import ConfigError

PROMPT_VERSION = "extract_v2"  # v2: the nested ModelExtraction (case/patient/clinical/...)
_SECTION = re.compile(r"^## (system|user)\s*$", re.MULTILINE)
_FRONT = re.compile(r"\A---\n(?P<meta>.*?)\n---\n", re.DOTALL)
_SLOT = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Prompt:
    version: str
    system: str
    user: str

    def render(self, **values: str) -> tuple[str, str]:
        """(system, user) with {{slots}} filled; a missing slot is a ConfigError."""
        return self.system, _fill(self.user, values, self.version)


def _fill(template: str, values: dict[str, str], version: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise ConfigError(f"prompt {version}: no value for slot {{{{{m.group(1)}}}}}")
        return values[m.group(1)]

    # One pass, so text inside a value (a letter containing "{{x}}") is never re-expanded.
    return _SLOT.sub(one, template)


def prompts_dir() -> Path:
    """prompts/ in a source tree, or the installed imr_llm/prompts package data."""
    package = Path(__file__).resolve().parents[1]  # imr_llm/
    repo = package.parent / "prompts"
    if repo.is_dir():
        return repo
    return package / "_prompts"


@cache
def load_prompt(version: str = PROMPT_VERSION) -> Prompt:
    path = prompts_dir() / f"{version}.md"
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(f"prompt {version} not found at {path}: reinstall imr-llm") from None
    raw = _FRONT.sub("", raw, count=1)
    parts = _SECTION.split(raw)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if "system" not in sections or "user" not in sections:
        raise ConfigError(f"prompt {path} needs '## system' and '## user' sections")
    return Prompt(version=version, system=sections["system"], user=sections["user"])
