"""The narrative prompt's calls: one per letter, item groups only past the context window.

The prompt, its validation and the merge with the rules summary live in `llm.narrative`; this
module runs the calls through the client and the cache (see `llm.extract` for the all-fields
prompt, extract_v2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from pydantic import ValidationError

from imr_llm.errors import ConfigError, ExtractionError
from imr_llm.letter.anchors import Anchors
from imr_llm.letter.load import Letter
from imr_llm.letter.normalize import shorten
from imr_llm.llm.cache import ModelCache, cache_key
from imr_llm.llm.calls import client_getter, halving, lenient_parse, stamp_elapsed
from imr_llm.llm.narrative import (
    INPUT_VERSION,
    NarrativeOutput,
    ValidatedNarrative,
    ValidatedNarrativeV2,
    expected_for,
    planted_sentences,
    prompt_values,
)
from imr_llm.llm.narrative_merge import merge_narrative, raw_narrative
from imr_llm.llm.prompts import load_prompt
from imr_llm.llm.protocol import ModelClient, add_usage
from imr_llm.rules import summarize_rules
from imr_llm.schema import LetterSummary, Meta, ModelNarrative, Usage
from imr_llm.schema_export import schema_sha
from imr_llm.settings import Settings, is_loopback
from imr_llm.version import __version__


def summarize_narrative(
    loaded: Letter, anchors: Anchors, settings: Settings, replay: bool, started: float,
    client: ModelClient | None,
) -> tuple[LetterSummary, LetterSummary | None]:
    """The narrative prompt: one call per letter (item groups only past the context window)."""
    cache = ModelCache(settings.cache_dir) if settings.use_cache else None
    get_client = client_getter(settings, client)

    outputs: list[NarrativeOutput] = []
    usage = Usage()
    hits = 0
    def call(g: list[int]) -> tuple[NarrativeOutput, bool]:
        return _narrative_call(loaded, anchors, g, settings, cache, replay, get_client)

    try:
        for out, hit in halving(list(range(len(anchors.items))), call):
            hits += hit
            if not hit:
                usage = add_usage(usage, out.usage)
            outputs.append(out)
    finally:
        if cache is not None:
            cache.close()
    failed = [o for o in outputs if not o.validated]
    if settings.strict and failed:
        raise ExtractionError(
            f"{loaded.name}: the model's narrative never passed validation "
            f"({shorten('; '.join(failed[0].errors) or 'no valid answer', 200)}); drop --strict "
            "to get the letter's own values with findings instead",
            attempts=sum(o.attempts for o in failed), usage=usage.model_dump(),
        )
    meta = Meta(
        backend="llm", model=settings.model, prompt_version=settings.prompt,
        schema_sha=schema_sha(ModelNarrative), usage=usage,
        cache_hit=hits == len(outputs), package_version=__version__,
    )
    base = summarize_rules(loaded, anchors, meta)
    final = merge_narrative(outputs, base, anchors, loaded.text)
    raw = raw_narrative(outputs, base)
    stamp_elapsed(started, final, raw)
    return final, raw


def _narrative_call(
    loaded: Letter, anchors: Anchors, group: list[int], settings: Settings,
    cache: ModelCache | None, replay: bool, get_client: Callable[[], ModelClient],
) -> tuple[NarrativeOutput, bool]:
    reasks = min(settings.reask_attempts, 1)  # a bad reason is reasked once, then replaced
    version = settings.prompt
    prompt = load_prompt(version)
    validated_schema = ValidatedNarrative if version == "narrative_v1" else ValidatedNarrativeV2
    params = {"temperature": settings.temperature, "max_tokens": settings.max_tokens,
              "reask_attempts": reasks, "input": INPUT_VERSION[version],
              # the template's own hash too: a prompt edited in place can never hit old answers
              "prompt_sha": hashlib.sha256((prompt.system + prompt.user).encode()).hexdigest()[:16]}
    part = f"narrative{group[0]}-{group[-1]}"

    def key_for(model: str | None) -> str:
        return cache_key(model=model, base_url=_endpoint(settings), prompt_version=version,
                         schema_sha=schema_sha(ModelNarrative), params=params,
                         letter_sha=loaded.sha256, part=part)

    # --replay never reaches a server, so it cannot ask what model is served: it reads the
    # latest answer recorded under the configured model name.
    latest = key_for(f"{settings.model}@latest")
    key = latest if replay else key_for(_model_identity(settings, get_client))
    value = cache.get(key) if cache is not None else None
    if value is not None:
        try:
            return NarrativeOutput.model_validate(value), True
        except ValidationError:
            pass
    if replay:
        raise ConfigError(f"{loaded.name}: --replay found no cached model output: run once "
                          "without --replay first")
    system, user = prompt.render(**prompt_values(anchors, group, version))
    context = {"expected": expected_for(anchors, group, loaded.text), "item_count": len(group),
               "planted": planted_sentences(loaded.text)}
    result = get_client().structured(system, user, validated_schema, context, reasks=reasks)
    narrative = (ModelNarrative.model_validate(result.parsed.model_dump())
                 if result.parsed is not None else lenient_parse(result.raw_text, ModelNarrative))
    out = NarrativeOutput(group=group, prompt=version, narrative=narrative,
                          validated=result.parsed is not None,
                          attempts=result.attempts, errors=result.errors,
                          usage=result.usage.model_copy())
    if cache is not None:
        cache.set(key, out.model_dump(mode="json"))
        cache.set(latest, out.model_dump(mode="json"))
    return out, False


def _endpoint(settings: Settings) -> str | None:
    """The cache key's endpoint: a local server gets a new port every run, so it is 'local'."""
    return "local" if is_loopback(settings.base_url) else settings.base_url


def _model_identity(settings: Settings, get_client: Callable[[], ModelClient]) -> str | None:
    """What the server says it serves (a local server), else the configured model name."""
    if not is_loopback(settings.base_url):
        return settings.model
    served = getattr(get_client(), "served_model", None)
    name = served() if callable(served) else None
    return f"{settings.model}@{name}" if name else settings.model
