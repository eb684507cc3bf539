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

May import: `imr_llm.letter`, `imr_llm.schema`, `imr_llm.settings`, `imr_llm.errors` (and
`imr_llm.rules` for the base summary extract and reconcile overlay). Only `llm.client` imports
openai or instructor; `extract` imports it lazily, when no client is passed in.
"""
