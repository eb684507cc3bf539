"""The naive way beside ours, on the same model and letters. Not a test.

NAIVE: one instructor call through the same client with the WHOLE letter as the user message
and `ModelExtraction` (LetterSummary-shaped) as the schema: no anchors, no pinned item count,
no reask, no validation. An answer that is not valid JSON of the schema scores as empty.
OURS: `summarize_llm_with_raw` with the default prompt (narrative_v2), scored raw and validated.
Per letter the two alternate (naive, ours, naive, ours, ...) so both see the same machine load.
Reported: calls, prompt and completion tokens and seconds per letter, prompt tokens as a share
of the letter's own token count (the server's tokenizer), and the eval's scores. For ours also
the letter's share alone: the tokens of the rendered user message less those of the same
template with empty slots, over the letter's tokens (what the issue bounds at 0.6x; the rest
of a prompt, system text, schema and template, is the same for every letter).

    .venv/bin/python benchmarks/bench_naive.py --base-url http://127.0.0.1:8781/v1 \
        [--model qwen-1.5b] [--letters 6] [--out benchmarks/NAIVE.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imr_llm.errors import ImrError
from imr_llm.evaluation.metrics import aggregate, headline
from imr_llm.evaluation.narrative import aggregate_narrative, score_narrative
from imr_llm.evaluation.score import score_letter
from imr_llm.letter import read_letter
from imr_llm.llm.client import OpenAICompatibleClient
from imr_llm.llm.extract import summarize_llm_with_raw
from imr_llm.llm.narrative import prompt_values
from imr_llm.llm.prompts import load_prompt
from imr_llm.llm.reconcile import model_only_summary
from imr_llm.schema import GroupOutput, Meta, ModelExtraction, Usage
from imr_llm.settings import Settings

EVALS = Path("evals")
NAIVE_SYSTEM = ("Extract this IMR determination letter into JSON matching the schema: case "
                "header, reviewer, patient, clinical details, one entry per disputed item with "
                "its decision, and a short plain-English summary.")
JsonDict = dict[str, Any]


@dataclass
class Run:
    """One approach's measurements and predictions over the letters."""

    name: str
    seconds: list[float] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    preds: list[JsonDict | None] = field(default_factory=list)
    failures: int = 0  # no usable answer: invalid JSON, or a model call error
    letter_share: list[float] = field(default_factory=list)  # ours: letter-derived / letter tok


_VOCAB: dict[str, Any] = {}  # model name -> a vocab-only llama_cpp.Llama (its tokenizer)


def _local_count(model: str, text: str) -> int | None:
    """Tokens of `text` by a local model's own tokenizer (vocab only, no weights), or None."""
    if model not in _VOCAB:
        try:
            from llama_cpp import Llama

            from imr_llm.llm.local_server import model_gguf

            _VOCAB[model] = Llama(model_path=str(model_gguf(model)), vocab_only=True,
                                  verbose=False)
        except (ImportError, ImrError, ValueError, OSError):
            _VOCAB[model] = None
    vocab = _VOCAB[model]
    return None if vocab is None else len(vocab.tokenize(text.encode("utf-8"), add_bos=False,
                                                         special=True))


def letter_tokens(base_url: str, text: str, timeout_s: float, model: str = "") -> int | None:
    """Tokens of `text`: the local model's tokenizer when it is installed, else the server's
    (llama_cpp.server's /extras/tokenize); None if neither answers."""
    counted = _local_count(model, text) if model else None
    if counted is not None:
        return counted
    root = base_url.rstrip("/").removesuffix("/v1")
    req = urllib.request.Request(f"{root}/extras/tokenize", method="POST",
                                 data=json.dumps({"input": text}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return len(json.loads(resp.read())["tokens"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def letter_share(path: Path, settings: Settings, letter_tok: int | None) -> float | None:
    """(user-message tokens - empty-template tokens) / letter tokens, for our prompt."""
    if not letter_tok:
        return None
    _, anchors = read_letter(path)
    prompt = load_prompt(settings.prompt)
    values = prompt_values(anchors, list(range(len(anchors.items))), settings.prompt)
    url, wait, model = settings.base_url or "", settings.request_timeout_s, settings.model or ""
    full = letter_tokens(url, prompt.render(**values)[1], wait, model)
    empty = letter_tokens(url, prompt.render(**dict.fromkeys(values, ""))[1], wait, model)
    return None if full is None or empty is None else (full - empty) / letter_tok


def add_usage(total: Usage, u: Usage) -> None:
    total.calls += u.calls
    total.prompt_tokens += u.prompt_tokens
    total.completion_tokens += u.completion_tokens


def run_naive(path: Path, settings: Settings, client: OpenAICompatibleClient,
              run: Run) -> None:
    """One call, whole letter, no anchors; the answer in the SPEC shape or None."""
    loaded, anchors = read_letter(path)
    start = time.perf_counter()
    try:
        result = client.structured(NAIVE_SYSTEM, loaded.text, ModelExtraction, context={},
                                   reasks=0)
    except ImrError as exc:  # the message names no letter text; print only its kind
        run.seconds.append(time.perf_counter() - start)
        run.failures += 1
        run.preds.append(None)
        print(f"  naive: {exc.kind}", file=sys.stderr)
        return
    run.seconds.append(time.perf_counter() - start)
    add_usage(run.usage, result.usage)
    extraction = (ModelExtraction.model_validate(result.parsed.model_dump())
                  if result.parsed is not None else None)
    n_items = len(extraction.items) if extraction is not None else len(anchors.items)
    out = GroupOutput(group=list(range(n_items)), extraction=extraction,
                      validated=extraction is not None, attempts=result.attempts,
                      errors=result.errors, usage=result.usage)
    meta = Meta(backend="llm", model=settings.model, usage=result.usage)
    summary = model_only_summary([out], loaded, anchors, meta)
    run.failures += summary is None
    run.preds.append(summary.model_dump(mode="json") if summary is not None else None)


def run_ours(path: Path, settings: Settings, run: Run, raw_run: Run) -> None:
    """Our backend: validated summary into `run`, the raw model summary into `raw_run`."""
    start = time.perf_counter()
    try:
        final, raw = summarize_llm_with_raw(path, settings=settings)
    except ImrError as exc:
        elapsed = time.perf_counter() - start
        for r in (run, raw_run):
            r.seconds.append(elapsed)
            r.failures += 1
            r.preds.append(None)
        print(f"  ours: {exc.kind}", file=sys.stderr)
        return
    elapsed = time.perf_counter() - start
    for r in (run, raw_run):
        r.seconds.append(elapsed)
    add_usage(run.usage, final.meta.usage)
    add_usage(raw_run.usage, final.meta.usage)
    run.preds.append(final.model_dump(mode="json"))
    raw_run.failures += raw is None
    raw_run.preds.append(raw.model_dump(mode="json") if raw is not None else None)


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def cost_table(runs: list[tuple[str, Run]], letters: int, tokens: int) -> list[str]:
    rows = ["| approach | calls/letter | prompt tok/letter | completion tok/letter "
            "| median s/letter | mean s/letter | prompt tok / letter tok | no usable answer |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in runs:
        u = r.usage
        share = u.prompt_tokens / tokens if tokens else None
        rows.append(f"| {name} | {u.calls / letters:.2f} | {u.prompt_tokens / letters:.0f} "
                    f"| {u.completion_tokens / letters:.0f} "
                    f"| {statistics.median(r.seconds):.1f} | {statistics.mean(r.seconds):.1f} "
                    f"| {fmt(share, '.2f')} | {r.failures}/{letters} |")
    return rows


def share_lines(ours: Run) -> list[str]:
    if not ours.letter_share:
        return []
    sh = ours.letter_share
    return [f"Ours, the letter's part of the prompt (user message less the empty template) "
            f"over the letter's own tokens: median {statistics.median(sh):.2f}x, max "
            f"{max(sh):.2f}x over {len(sh)} letters (the naive way sends the whole letter, "
            "1.00x).", ""]


def score_table(runs: list[Run], gold: list[JsonDict], ngold: list[JsonDict],
                texts: list[str]) -> list[str]:
    rows = ["| approach | decision acc | item F1 | quantity acc | diagnoses F1 | body-part F1 "
            "| why key-fact recall | grounded rate |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        h = headline(aggregate([score_letter(g, p, t)
                                for g, p, t in zip(gold, r.preds, texts, strict=True)]))
        n = aggregate_narrative([score_narrative(g, p, t)
                                 for g, p, t in zip(ngold, r.preds, texts, strict=True)])
        rows.append(f"| {r.name} | {fmt(h['decision_accuracy'])} | {fmt(h['item_f1'])} "
                    f"| {fmt(h['quantity_accuracy'])} | {fmt(n['diagnoses']['f1'])} "
                    f"| {fmt(n['body_parts']['f1'])} | {fmt(n['why']['recall'])} "
                    f"| {fmt(n['grounding']['rate'])} |")
    return rows


def shares_only(folder: Path, model: str) -> int:
    """Our prompt's letter share (see letter_share) over every letter in `folder`."""
    settings = Settings(backend="llm", model=model, base_url="http://127.0.0.1:1/v1",
                        use_cache=False)
    shares = []
    for path in sorted(folder.glob("*.txt")):
        tok = _local_count(model, read_letter(path)[0].text)
        share = letter_share(path, settings, tok)
        if share is None:
            print(f"no local tokenizer for {model}: install it (scripts/install_models.sh)",
                  file=sys.stderr)
            return 2
        shares.append(share)
    print(f"{len(shares)} letters in {folder}, prompt {settings.prompt}, {model} tokenizer: "
          f"the letter's part of the prompt is median {statistics.median(shares):.2f}x, "
          f"max {max(shares):.2f}x, min {min(shares):.2f}x of the letter's own tokens; "
          f"{sum(s <= 0.6 for s in shares)} of {len(shares)} at or under 0.6x")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True, help="OpenAI-compatible /v1 endpoint")
    ap.add_argument("--model", default="qwen-1.5b")
    ap.add_argument("--letters", type=int, default=6, help="first N narrative-gold letters")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/NAIVE.md"))
    ap.add_argument("--shares-only", type=Path, metavar="LETTERS_DIR",
                    help="no model calls: our prompt's letter share for every .txt letter "
                         "here, by the local model's tokenizer")
    args = ap.parse_args(argv)
    if args.shares_only:
        return shares_only(args.shares_only, args.model)
    stems = sorted(p.stem for p in (EVALS / "narrative").glob("*.json"))[: args.letters]
    if not stems:
        print(f"no narrative gold in {EVALS / 'narrative'}: run from the repository root",
              file=sys.stderr)
        return 2
    settings = Settings(backend="llm", model=args.model, base_url=args.base_url,
                        use_cache=False)
    client = OpenAICompatibleClient(settings)
    naive, ours, ours_raw = Run("naive (1 call, whole letter)"), Run("ours, validated"), \
        Run("ours, raw model")
    gold: list[JsonDict] = []
    ngold: list[JsonDict] = []
    texts: list[str] = []
    tokens, estimated = 0, 0
    for k, stem in enumerate(stems, 1):
        path = EVALS / "letters" / f"{stem}.txt"
        gold.append(json.loads((EVALS / "gold" / f"{stem}.json").read_text(encoding="utf-8")))
        ngold.append(json.loads((EVALS / "narrative" / f"{stem}.json")
                                .read_text(encoding="utf-8")))
        text = read_letter(path)[0].text
        texts.append(text)
        # A shared server answers tokenize only between generations: wait as long as a call.
        counted = letter_tokens(args.base_url, text, settings.request_timeout_s, args.model)
        estimated += counted is None
        tokens += counted if counted is not None else len(text) // 4
        share = letter_share(path, settings, counted)
        if share is not None:
            ours.letter_share.append(share)
        print(f"[{k}/{len(stems)}] {stem}: naive ...", file=sys.stderr, flush=True)
        run_naive(path, settings, client, naive)
        print(f"[{k}/{len(stems)}] {stem}: ours ...", file=sys.stderr, flush=True)
        run_ours(path, settings, ours, ours_raw)
        print(f"  naive {naive.seconds[-1]:.0f} s, ours {ours.seconds[-1]:.0f} s",
              file=sys.stderr, flush=True)
    n = len(stems)
    if not naive.usage.calls and not ours.usage.calls:
        print(f"no model call answered at {args.base_url}: is the server up? "
              f"{args.out} left as it was", file=sys.stderr)
        return 1
    how = (f"{estimated} of {n} estimated as characters/4 (the server's /extras/tokenize did "
           "not answer), the rest counted with the model's tokenizer"
           if estimated else "counted with the model's own tokenizer")
    lines = [
        "# Naive extraction beside ours",
        "",
        f"Model `{args.model}` at `{args.base_url}`, {n} letters "
        f"({', '.join(stems)}), cache off, run alternating naive/ours per letter on "
        f"{time.strftime('%Y-%m-%d')}. Naive: one instructor call with the whole letter and "
        "the `ModelExtraction` schema, no anchors, no pinned item count, no reask; an answer "
        "that is not valid JSON of the schema scores as an empty prediction. Ours: "
        f"`summarize_llm_with_raw`, prompt `{settings.prompt}`; the raw row scores the "
        "model's own answer, the validated row the summary after anchors and reconcile "
        "(same calls, so the cost row is shared).",
        "",
        f"Letters: {tokens / n:.0f} tokens each on average, {how}.",
        "",
        "## Cost per letter",
        "",
        *cost_table([(naive.name, naive), (f"ours ({settings.prompt})", ours)], n, tokens),
        "",
        *share_lines(ours),
        "## Scores (anchored gold: evals/gold; narrative gold: evals/narrative)",
        "",
        *score_table([naive, ours_raw, ours], gold, ngold, texts),
        "",
        "n/a: nothing to score (grounded rate: the answer named no diagnoses or body parts).",
        "",
        "Reproduce: `.venv/bin/python benchmarks/bench_naive.py "
        f"--base-url {args.base_url} --model {args.model} --letters {n}`",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
