"""The model backend: a letter's anchors -> prompt -> model -> validated output -> reconciled.

    protocol   ModelClient (what extract needs from a model) and CallResult; no SDK
    client     OpenAICompatibleClient: the ONLY module importing openai or instructor
               (compact schema, grammar for local endpoints, SDK errors -> ModelCallError)
    transport  RetryingTransport (tenacity per HTTP request), Retry-After, backoff, RateLimiter,
               MalformedResponseError; httpx only, never openai
    pricing    the price table (IMR_PRICES file read once) and cost_usd
    prompts    versioned prompt files from prompts/ (extract_v2 ...), never edited in place
    cache      diskcache of GroupOutput dumps; keys carry every input that changes the answer
    extract    groups of items -> model calls (validated against the anchors) -> GroupOutput
    reconcile  GroupOutput x the rules summary -> LetterSummary + findings (pure)
    narrative  the narrative prompts (narrative_v2, v1): their slots, validation of reasons
    narrative_merge  the validated answer laid over the rules summary: a span for every
               model-named phrase, anchored values kept, findings for the rest (pure)
    narrative_call  the narrative prompt's calls: one per letter, halved past the context
    calls      the lazily built client and elapsed stamps both prompts share
    local_models    GGUF models assembled from PyPI part packages (size + sha256 checked)
    local_server    llama_cpp.server on 127.0.0.1 for tests, the nightly eval and benchmarks

May import: `imr_llm.letter`, `imr_llm.schema`, `imr_llm.settings`, `imr_llm.errors` (and
`imr_llm.rules`/`imr_llm.summary` for the base summary, `imr_llm.evaluation.fields` for the
field registry). Only `llm.client` imports
openai or instructor; `extract` imports it lazily, when no client is passed in.
"""
