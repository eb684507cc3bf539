"""The narrative scorer of shared/NARRATIVE.md: diagnoses, body parts, `why`, grounding. Pure.

- diagnoses / body parts: content tokens of each gold and predicted phrase; a pair matches when
  the shared tokens cover >= 60% of the gold phrase's tokens and >= 50% of the predicted one's;
  one-to-one, best overlap first; precision / recall / F1 micro-averaged over letters.
- why: each item's `rationale_summary` cut to its first 60 words, lowercased; a key-fact group
  is found when one of its phrases occurs in it. Key-fact recall, and the share of items with
  every group found.
- grounded: every predicted diagnosis, body part and prior treatment has a provenance span
  whose text contains it as the letter writes it (whitespace aside); a fuzzy match counts only
  when the summary's `alignment` says that value was aligned fuzzily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from imr_llm.evaluation.gate import mcnemar_exact

STOPWORDS: Final[frozenset[str]] = frozenset({
    "the", "of", "and", "with", "documented", "diagnosed", "diagnosis", "diagnoses", "patient",
    "a", "an", "in", "on", "to", "for", "or", "as", "at", "by", "from", "is", "was", "were",
    "are", "be", "been", "has", "have", "had", "this", "that",
})
GOLD_SHARE: Final = 0.6
PRED_SHARE: Final = 0.5
WHY_WORDS: Final = 60
NARRATIVE_LISTS: Final[tuple[str, ...]] = ("diagnoses", "body_parts", "prior_treatments")


def content_tokens(text: str) -> frozenset[str]:
    """Lowercase alphanumeric tokens of a phrase, stopwords removed."""
    return frozenset(t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in STOPWORDS)


def match_phrases(gold: Sequence[str], pred: Sequence[str]) -> list[tuple[int, int]]:
    """One-to-one (gold index, predicted index) matches, best overlap first."""
    g_tok = [content_tokens(g) for g in gold]
    p_tok = [content_tokens(p) for p in pred]
    pairs: list[tuple[float, int, int]] = []
    for gi, gt in enumerate(g_tok):
        for pi, pt in enumerate(p_tok):
            if not gt or not pt:
                continue
            shared = len(gt & pt)
            if shared / len(gt) >= GOLD_SHARE and shared / len(pt) >= PRED_SHARE:
                pairs.append((shared / len(gt | pt), gi, pi))
    pairs.sort(key=lambda x: (-x[0], x[1], x[2]))
    used_g: set[int] = set()
    used_p: set[int] = set()
    out: list[tuple[int, int]] = []
    for _, gi, pi in pairs:
        if gi in used_g or pi in used_p:
            continue
        used_g.add(gi)
        used_p.add(pi)
        out.append((gi, pi))
    return sorted(out)


def score_phrases(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Counts for one letter's list: matched, gold, predicted, and what went unmatched."""
    matches = match_phrases(gold, pred)
    mg = {g for g, _ in matches}
    mp = {p for _, p in matches}
    return {
        "matched": len(matches),
        "gold": len(gold),
        "predicted": len(pred),
        "missed": [g for i, g in enumerate(gold) if i not in mg],
        "extra": [p for i, p in enumerate(pred) if i not in mp],
    }


def why_facts(key_facts: Sequence[Sequence[str]], rationale_summary: str) -> list[bool]:
    """For each key-fact group: does the summary's first 60 words contain one of its phrases."""
    head = " ".join(rationale_summary.split()[:WHY_WORDS]).lower()
    return [any(phrase.lower() in head for phrase in group) for group in key_facts]


def _pair_items(gold_items: Sequence[Mapping[str, Any]],
                pred_items: Sequence[Mapping[str, Any]]) -> list[tuple[int, int | None]]:
    """Gold item -> predicted item: by position when the counts agree, else by service words."""
    if len(gold_items) == len(pred_items):
        return [(i, i) for i in range(len(gold_items))]
    g = [str(i.get("service", "")) for i in gold_items]
    p = [str(i.get("service", "")) for i in pred_items]
    found = dict(match_phrases(g, p))
    return [(i, found.get(i)) for i in range(len(gold_items))]


def _grounded(pred: Mapping[str, Any], text: str) -> dict[str, Any]:
    clinical = pred.get("clinical") or {}
    provenance = pred.get("provenance") or {}
    alignment = pred.get("alignment") or {}
    total = 0
    bad: list[str] = []
    for name in NARRATIVE_LISTS:
        for i, value in enumerate(clinical.get(name) or []):
            total += 1
            path = f"clinical.{name}[{i}]"
            span = provenance.get(path)
            ok = False
            if isinstance(span, list | tuple) and len(span) == 2 and text:
                s, e = int(span[0]), int(span[1])
                if 0 <= s < e <= len(text):
                    quoted = " ".join(text[s:e].split()).lower()
                    want = " ".join(str(value).split()).lower()
                    ok = want in quoted or (alignment.get(path) == "fuzzy" and bool(quoted))
            if not ok:
                bad.append(path)
    return {"values": total, "grounded": total - len(bad), "ungrounded": bad}


def score_narrative(gold: Mapping[str, Any], pred: Mapping[str, Any] | None,
                    text: str | None) -> dict[str, Any]:
    """One letter's narrative score against its NARRATIVE.md gold."""
    pred = pred or {}
    clinical = pred.get("clinical") or {}
    out: dict[str, Any] = {
        "diagnoses": score_phrases(gold.get("diagnoses") or [], clinical.get("diagnoses") or []),
        "body_parts": score_phrases(gold.get("body_parts") or [], clinical.get("body_parts") or []),
    }
    gold_items = gold.get("items") or []
    pred_items = pred.get("items") or []
    groups = found = items_all = 0
    per_item: list[dict[str, Any]] = []
    for gi, pi in _pair_items(gold_items, pred_items):
        facts = gold_items[gi].get("key_facts") or []
        summary = "" if pi is None else str(pred_items[pi].get("rationale_summary") or "")
        hits = why_facts(facts, summary)
        groups += len(hits)
        found += sum(hits)
        items_all += all(hits)
        per_item.append({"gold": gi, "pred": pi, "facts": len(hits), "found": sum(hits),
                         "missed": [g for g, h in zip(facts, hits, strict=True) if not h]})
    out["why"] = {"groups": groups, "found": found, "items": len(gold_items),
                  "items_all_found": items_all, "per_item": per_item}
    out["grounding"] = _grounded(pred, text or "")
    return out


def _prf(matched: int, gold: int, pred: int) -> dict[str, Any]:
    precision = matched / pred if pred else (1.0 if not gold else 0.0)
    recall = matched / gold if gold else (1.0 if not pred else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"matched": matched, "gold": gold, "predicted": pred,
            "precision": precision, "recall": recall, "f1": f1}


def aggregate_narrative(scores: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Micro-averaged narrative totals over letters."""
    out: dict[str, Any] = {"letters": len(scores)}
    for name in ("diagnoses", "body_parts"):
        m = sum(s[name]["matched"] for s in scores)
        g = sum(s[name]["gold"] for s in scores)
        p = sum(s[name]["predicted"] for s in scores)
        out[name] = _prf(m, g, p)
        out[name]["letters_right"] = sum(
            1 for s in scores if s[name]["matched"] == s[name]["gold"] == s[name]["predicted"]
        )
    groups = sum(s["why"]["groups"] for s in scores)
    found = sum(s["why"]["found"] for s in scores)
    items = sum(s["why"]["items"] for s in scores)
    all_found = sum(s["why"]["items_all_found"] for s in scores)
    out["why"] = {"groups": groups, "found": found, "recall": found / groups if groups else None,
                  "items": items, "items_all_found": all_found,
                  "items_all_rate": all_found / items if items else None}
    values = sum(s["grounding"]["values"] for s in scores)
    grounded = sum(s["grounding"]["grounded"] for s in scores)
    out["grounding"] = {"values": values, "grounded": grounded,
                        "rate": grounded / values if values else None}
    return out


# --- the gate -----------------------------------------------------------------------------------

#: A micro-averaged narrative metric may fall by at most this much before the gate fails, even
#: when no single letter's change is significant (small N: a broad small drop still counts).
MAX_DROP: Final = 0.02


def _letter_values(s: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """(hits, out of) per narrative metric of one letter score."""
    d, b, w, g = s["diagnoses"], s["body_parts"], s["why"], s["grounding"]
    return {
        "diagnoses": (d["matched"], d["gold"] + d["predicted"]),  # 2*matched/(g+p) = F1
        "body_parts": (b["matched"], b["gold"] + b["predicted"]),
        "why": (w["found"], w["groups"]),
        "grounding": (g["grounded"], g["values"]),
    }


def _micro(values: Sequence[tuple[int, int]], f1: bool) -> float | None:
    hits, total = sum(h for h, _ in values), sum(t for _, t in values)
    if not total:
        return None
    return (2 * hits if f1 else hits) / total


def compare_narrative(baseline: Mapping[str, Mapping[str, Any]],
                      current: Mapping[str, Mapping[str, Any]],
                      alpha: float = 0.05) -> dict[str, Any] | None:
    """Paired narrative gate over the letters both runs scored; None when there are none.

    Per metric (diagnoses F1, body-part F1, key-fact recall of `why`, grounded rate): letters
    whose value fell vs rose give an exact two-sided sign (McNemar) test; the metric regressed
    when it fell overall and p < alpha, or when its micro average fell by more than MAX_DROP.
    Grounding is stricter: any value grounded in the baseline that is not now is a regression.
    """
    stems = sorted(set(baseline) & set(current))
    if not stems:
        return None
    tests: dict[str, Any] = {}
    reasons: list[str] = []
    for metric in ("diagnoses", "body_parts", "why", "grounding"):
        old = [_letter_values(baseline[s])[metric] for s in stems]
        new = [_letter_values(current[s])[metric] for s in stems]
        worse = better = 0
        for (oh, ot), (nh, nt) in zip(old, new, strict=True):
            o = oh / ot if ot else 1.0
            n = nh / nt if nt else 1.0
            worse += n < o - 1e-9
            better += n > o + 1e-9
        f1 = metric in ("diagnoses", "body_parts")
        before, after = _micro(old, f1), _micro(new, f1)
        p_value = mcnemar_exact(worse, better)
        drop = (before or 0.0) - (after or 0.0)
        regressed = (worse > better and p_value < alpha) or drop > MAX_DROP
        if metric == "grounding":
            regressed = regressed or (after is not None and before is not None
                                      and after < before - 1e-9)
        tests[metric] = {"letters": len(stems), "before": before, "after": after,
                         "worse": worse, "better": better, "p_value": p_value,
                         "regressed": regressed}
        if regressed:
            reasons.append(
                f"narrative {metric} got worse: {before:.3f} -> {after:.3f} over {len(stems)} "
                f"letters ({worse} worse, {better} better; exact sign test p={p_value:.4g})"
            )
    return {"failed": bool(reasons), "reasons": reasons, "metrics": tests}
