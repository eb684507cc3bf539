"""Unit tests of imr_llm.render.evalreport: the HTML eval page from crafted run dicts."""

from __future__ import annotations

import copy
import html
import re
from typing import Any

from imr_llm.evaluation.gate import compare
from imr_llm.evaluation.metrics import aggregate, headline
from imr_llm.evaluation.narrative import aggregate_narrative, compare_narrative, score_narrative
from imr_llm.evaluation.score import score_letter
from imr_llm.render.evalreport import eval_report_html, eval_report_markdown, needs_diff

GOOD_STEM, QTY_STEM, DEC_STEM = "CM16-0000001", "CM16-0000002", "CM16-0000003"


def make_text(number: str) -> str:
    """A tiny letter with characters that must be escaped in HTML."""
    return (f"Case Number: {number}\nDecision Date: 01/02/2017\n\n"
            "Physical therapy <twice> weekly & more, QTY: 12.00: Upheld\n"
            "MRI of the lumbar spine: Overturned\n")


def make_gold(number: str) -> dict[str, Any]:
    """The gold label that matches `make_text`."""
    return {
        "case": {"case_number": number, "decision_date": "2017-01-02"},
        "items": [
            {"service": "Physical therapy <twice> weekly & more", "quantity": 12,
             "decision": "upheld", "medically_necessary": False},
            {"service": "MRI of the lumbar spine", "quantity": None, "decision": "overturned",
             "medically_necessary": True},
        ],
    }


def make_pred(text: str, gold: dict[str, Any]) -> dict[str, Any]:
    """A prediction equal to gold, with provenance spans found in `text`."""
    pred = copy.deepcopy(gold)

    def span(needle: str, after: int = 0) -> list[int]:
        start = text.index(needle, after)
        return [start, start + len(needle)]

    line2 = text.index("MRI")
    pred["provenance"] = {
        "case.case_number": span(gold["case"]["case_number"]),
        "case.decision_date": span("01/02/2017"),
        "items[0].service": span("Physical therapy <twice> weekly & more"),
        "items[0].quantity": span("QTY: 12.00"),
        "items[0].decision": span("Upheld"),
        "items[1].service": span("MRI of the lumbar spine"),
        "items[1].decision": span("Overturned", line2),
    }
    pred["summary"] = "A patient; physical therapy upheld, MRI overturned."
    return pred


def make_run(*, wrong_quantity: bool = True, wrong_decision: bool = True,
             raw: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """A run.json-shaped dict over three letters; optionally one wrong quantity, one decision."""
    letters: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for stem in (GOOD_STEM, QTY_STEM, DEC_STEM):
        text = make_text(stem)
        gold = make_gold(stem)
        pred = make_pred(text, gold)
        if stem == QTY_STEM and wrong_quantity:
            pred["items"][0]["quantity"] = 6
        if stem == DEC_STEM and wrong_decision:
            pred["items"][1]["decision"] = "upheld"
            pred["items"][1]["medically_necessary"] = False
        record: dict[str, Any] = {"letter": f"evals/letters/{stem}.txt", "gold": gold,
                                  "prediction": pred, "score": score_letter(gold, pred, text)}
        if raw:
            raw_pred = copy.deepcopy(pred)
            raw_pred["case"]["decision_date"] = "2017-02-01"
            record["raw_prediction"] = raw_pred
            record["raw_score"] = score_letter(gold, raw_pred, text)
        letters[stem] = record
        texts[stem] = text
    totals = aggregate([r["score"] for r in letters.values()])
    run: dict[str, Any] = {
        "created": "2026-01-01T00:00:00+00:00",
        "config": {"backend": "llm" if raw else "rules", "model": "tiny" if raw else None,
                   "base_url": None, "letters": "evals/letters", "gold": "evals/gold",
                   "replay": False, "limit": None},
        "versions": {"imr_llm": "0.1.0", "python": "3.11", "schema_sha": "abc"},
        "letters": letters,
        "orphan_gold": [],
        "totals": totals,
        "usage": {"calls": 3 if raw else 0, "prompt_tokens": 300 if raw else 0,
                  "completion_tokens": 90 if raw else 0, "total_tokens": 390 if raw else 0,
                  "cost_usd": 0.0123 if raw else 0.0, "cache_hits": 1 if raw else 0,
                  "per_letter": {"cost_usd": 0.0041 if raw else 0.0}},
        "elapsed_s": 0.5,
        "headline": headline(totals),
    }
    if raw:
        run["raw_totals"] = aggregate([r["raw_score"] for r in letters.values()])
        run["raw_headline"] = headline(run["raw_totals"])
    return run, texts


def diff_block(page: str, stem: str) -> str:
    """The HTML of one letter's <details> diff."""
    m = re.search(rf'<details class="diff" id="letter-{stem}".*?</details>', page, re.S)
    assert m, f"no diff for {stem}"
    return m.group(0)


def letter_panel_text(block: str, stem: str) -> str:
    """The letter panel of a diff with its tags stripped and entities unescaped."""
    m = re.search(rf'<div class="letter" id="text-{stem}">(.*?)</div>', block, re.S)
    assert m, f"no letter panel for {stem}"
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1)))


def test_wrong_quantity_and_decision_letters_get_diffs() -> None:
    """Only the two letters with a wrong value get a diff; the perfect one does not."""
    run, texts = make_run()
    page = eval_report_html(run, texts)
    assert 'id="letter-' + GOOD_STEM not in page
    qty = diff_block(page, QTY_STEM)
    assert "Item quantity" in qty and "Wrong value" in qty
    assert re.search(r'<td class="val">12</td><td class="val">6</td>', qty)
    dec = diff_block(page, DEC_STEM)
    assert "decision wrong" in dec
    assert re.search(r'<td class="val">Overturned</td><td class="val">Upheld</td>', dec)


def test_diff_highlights_the_wrong_values_span_in_escaped_letter_text() -> None:
    """The letter text is escaped and the predicted span of the wrong value is marked."""
    run, texts = make_run()
    page = eval_report_html(run, texts)
    qty = diff_block(page, QTY_STEM)
    assert "&lt;twice&gt; weekly &amp; more" in qty
    assert "<twice>" not in page
    assert re.search(r'<mark class="prov hl bad" data-field="items\[0\]\.quantity"[^>]*>'
                     r"QTY: 12\.00</mark>", qty)
    assert letter_panel_text(qty, QTY_STEM) == texts[QTY_STEM]
    dec = diff_block(page, DEC_STEM)
    assert re.search(r'data-field="items\[1\]\.decision"[^>]*>Overturned</mark>', dec)


def test_decision_confusion_marks_the_wrong_cell_red() -> None:
    """One overturned item read as upheld: one red off-diagonal cell, diagonal cells green."""
    run, texts = make_run()
    page = eval_report_html(run, texts)
    assert re.findall(r'<td class="cm-wrong">(\d+)</td>', page) == ["1"]
    assert re.findall(r'<td class="cm-right">(\d+)</td>', page) == ["3", "2"]


def test_headline_speaks_plain_english() -> None:
    """The verdict opens with the share of letters whose every decision was right."""
    run, texts = make_run()
    page = eval_report_html(run, texts)
    assert "On 3 labeled letters, every decision was right in 66.7% of letters (2 of 3)." in page
    assert "Letters with every decision right" in page
    assert "Decision date" in page and "Item quantity" in page


def test_perfect_run_says_so() -> None:
    """With no wrong value anywhere the page says every letter was read perfectly."""
    run, texts = make_run(wrong_quantity=False, wrong_decision=False)
    page = eval_report_html(run, texts)
    assert "Every letter was read perfectly" in page
    assert "<details class=\"diff\"" not in page
    assert "All letters right" in page
    assert 'class="cm-wrong"' not in page


def test_failed_gate_shows_a_red_banner_with_reasons() -> None:
    """A gate that failed shows FAILED, its reasons (escaped) and the letters that changed."""
    run, texts = make_run()
    clean, _ = make_run(wrong_quantity=False, wrong_decision=False)
    run["gate"] = compare({k: v["score"] for k, v in clean["letters"].items()},
                          {k: v["score"] for k, v in run["letters"].items()})
    run["gate"]["baseline"] = "evals/baselines/<rules>.json"
    assert run["gate"]["failed"]
    page = eval_report_html(run, texts)
    assert 'class="card gate gate-fail"' in page
    assert "Baseline gate: FAILED" in page
    assert f"decision regression in {DEC_STEM}" in page
    assert "evals/baselines/&lt;rules&gt;.json" in page
    assert f'<a href="#letter-{DEC_STEM}">{DEC_STEM}</a>' in page
    assert "Gate failed" in page


def test_passed_gate_shows_a_green_banner() -> None:
    """A gate that passed says so in a green banner."""
    run, texts = make_run(wrong_quantity=False, wrong_decision=False)
    scores = {k: v["score"] for k, v in run["letters"].items()}
    run["gate"] = compare(scores, scores)
    page = eval_report_html(run, texts)
    assert 'class="card gate gate-pass"' in page and "Baseline gate: passed" in page


def test_raw_model_scores_sit_beside_validated_ones() -> None:
    """With raw scores each card shows raw model and validated values and the lift."""
    run, texts = make_run(raw=True)
    page = eval_report_html(run, texts)
    assert page.count('<div class="which">Raw model</div>') == len(run["headline"]) - 1
    assert "Raw model accuracy" in page
    header = re.search(r'data-metric="header_accuracy">(.*?)<div class="title">', page, re.S)
    assert header is not None
    assert '<div class="value raw">50.0%</div>' in header.group(1)
    assert '<div class="value">100%</div>' in header.group(1)
    assert '<div class="lift lift-up">validation +50.0 pts</div>' in header.group(1)
    assert "$0.0123" in page and "390" in page


def test_failed_prediction_shows_its_error_escaped() -> None:
    """A letter whose prediction failed shows the error message, escaped."""
    run, texts = make_run(wrong_quantity=False, wrong_decision=False)
    rec = run["letters"][GOOD_STEM]
    rec["error"] = {"type": "input", "message": "bad <letter> & worse"}
    rec.pop("prediction")
    rec["score"] = score_letter(rec["gold"], None, None)
    page = eval_report_html(run, texts)
    block = diff_block(page, GOOD_STEM)
    assert "could not be read" in block
    assert "bad &lt;letter&gt; &amp; worse" in block
    assert "<letter>" not in page


def test_hostile_stem_and_values_are_escaped() -> None:
    """A stem or value carrying markup is shown as text, never as markup."""
    run, texts = make_run()
    evil = '<img src=x onerror="alert(1)">'
    run["letters"][evil] = run["letters"].pop(QTY_STEM)
    run["letters"][evil]["score"]["details"][0]["pred"] = evil
    run["letters"][evil]["score"]["details"][0]["class"] = "wrong"
    texts[evil] = texts.pop(QTY_STEM)
    page = eval_report_html(run, texts)
    assert "<img" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_diff_without_letter_text_still_shows_the_table() -> None:
    """Without texts the page still lists each wrong value and says the text is missing."""
    run, _ = make_run()
    page = eval_report_html(run)
    qty = diff_block(page, QTY_STEM)
    assert "Item quantity" in qty and "letter text not available" in qty
    assert '<div class="letter"' not in qty


def test_headline_is_computed_when_the_run_has_none() -> None:
    """A run dict straight from run_eval (no headline yet) still renders its headline."""
    run, texts = make_run()
    del run["headline"]
    page = eval_report_html(run, texts)
    assert "every decision was right in 66.7% of letters" in page


def test_page_is_self_contained() -> None:
    """Inline CSS only: no scripts, no external stylesheets, images or fonts."""
    run, texts = make_run()
    page = eval_report_html(run, texts)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)


def test_needs_diff_flags_errors_and_wrong_values_only() -> None:
    """needs_diff is true for a failed letter or a wrong value, false for a perfect letter."""
    run, _ = make_run()
    flags = {stem: needs_diff(rec) for stem, rec in run["letters"].items()}
    assert flags == {GOOD_STEM: False, QTY_STEM: True, DEC_STEM: True}
    assert needs_diff({"error": {"type": "input", "message": "x"}, "score": {}})


def test_markdown_report_still_lists_letters_with_errors() -> None:
    """The Markdown report keeps working and names the wrong values."""
    run, _ = make_run()
    md = eval_report_markdown(run)
    assert md.startswith("# imr_llm eval: rules")
    assert f"`{QTY_STEM}` items[0].quantity: wrong (gold 12, predicted 6)" in md
    perfect, _ = make_run(wrong_quantity=False, wrong_decision=False)
    assert "None: every letter fully right." in eval_report_markdown(perfect)


# --- the narrative half --------------------------------------------------------------------------

NARRATIVE_TEXT = ("\nDiagnoses: lumbar strain; knee sprain.\n"
                  "Body parts treated: lower back, right knee.\n")
NARRATIVE_GOLD: dict[str, Any] = {
    "diagnoses": ["lumbar strain", "knee sprain"],
    "body_parts": ["lower back", "right knee"],
    "items": [
        {"service": "Physical therapy", "decision": "upheld", "why": "x",
         "key_facts": [["twice weekly"], ["red flag", "neurologic"]]},
        {"service": "MRI of the lumbar spine", "decision": "overturned", "why": "x",
         "key_facts": [["radiculopathy"]]},
    ],
}
GOOD_REASONS = ("Therapy twice weekly exceeds the plan and no red flag is documented.",
                "Radiculopathy on exam supports the MRI.")


def add_narrative(run: dict[str, Any], texts: dict[str, str], *,
                  off_stem: str | None = GOOD_STEM) -> None:
    """Narrative gold scores on every letter; `off_stem` misses and adds phrases, and facts."""
    for stem, rec in run["letters"].items():
        text = texts[stem] = texts[stem] + NARRATIVE_TEXT
        pred = rec["prediction"]
        dx, bp = ["lumbar strain", "knee sprain"], ["lower back", "right knee"]
        reasons = GOOD_REASONS
        if stem == off_stem:
            dx, bp = ["lumbar strain", "shoulder <tendinitis>"], [*bp, "left wrist"]
            reasons = ("Not medically necessary.", GOOD_REASONS[1])
        pred["clinical"] = {"diagnoses": dx, "body_parts": bp}
        for name, values in (("diagnoses", dx), ("body_parts", bp)):
            for i, v in enumerate(values):
                if v in text:
                    start = text.index(v)
                    pred["provenance"][f"clinical.{name}[{i}]"] = [start, start + len(v)]
        for item, why in zip(pred["items"], reasons, strict=True):
            item["rationale_summary"] = why
        rec["narrative"] = score_narrative(NARRATIVE_GOLD, pred, text)
    run["narrative_totals"] = aggregate_narrative([r["narrative"] for r in run["letters"].values()])


def narrative_run(**kw: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A run whose anchored values are all right, with narrative scores on every letter."""
    run, texts = make_run(wrong_quantity=False, wrong_decision=False, **kw)
    add_narrative(run, texts)
    return run, texts


def section(page: str, section_id: str) -> str:
    m = re.search(rf'<section class="card [^"]*" id="{section_id}">.*?</section>', page, re.S)
    assert m, f"no section {section_id}"
    return m.group(0)


def test_narrative_section_speaks_plain_english() -> None:
    """The narrative section counts diagnoses, body parts, key facts and grounding in words."""
    run, texts = narrative_run()
    page = eval_report_html(run, texts)
    narr = section(page, "narrative")
    assert "What the worker is treated for, and why" in narr
    assert ("Diagnoses found: 5 of 6 the labels list (83.3%); 83.3% of the 6 diagnoses the "
            "system reported are right. All diagnoses right in 2 of 3 letters.") in narr
    assert "Body parts found: 6 of 6 the labels list (100%); 85.7% of the 7 body parts" in narr
    assert ("The reviewer&#x27;s reason: the summary states 7 of 9 key facts (77.8%); every key "
            "fact in 5 of 6 items.") in narr
    assert ("tied to the place in the letter that says them: 11 of 13 (84.6%); 2 values are "
            "not, and each is a defect.") in narr
    for key in ("diagnoses_f1", "body_parts_f1", "why_recall", "grounded_rate"):
        assert f'data-metric="{key}"' in narr
    md = eval_report_markdown(run)
    assert "## What the worker is treated for, and why" in md
    assert "- Diagnoses found: 5 of 6 the labels list (83.3%)" in md
    assert "| diagnoses F1 | 83.3% |" in md


def test_run_without_narrative_has_no_narrative_section() -> None:
    """An older run or a baseline with no narrative totals renders without the section."""
    run, texts = make_run()
    page = eval_report_html(run, texts)
    assert 'id="narrative"' not in page and "narrative differs" not in page
    assert 'id="sides"' not in page
    md = eval_report_markdown(run)
    assert "What the worker is treated for" not in md and "Narratives that differ" not in md


def test_narrative_differences_are_listed_under_letters_to_check() -> None:
    """A letter whose narrative differs shows what it missed and added, escaped, without text."""
    run, texts = narrative_run()
    page = eval_report_html(run, texts)
    block = diff_block(page, GOOD_STEM)
    assert "narrative differs" in block
    assert "knee sprain" in block and "shoulder &lt;tendinitis&gt;" in block
    assert "left wrist" in block
    assert "“twice weekly”" in block and "“red flag” / “neurologic”" in block
    assert "the summary says: “Not medically necessary.”" in block
    assert "Not tied to the place in the letter that says it (2)" in block
    assert '<div class="letter"' not in block
    assert 'id="letter-' + QTY_STEM not in page  # its narrative matches: no diff
    assert "1 narrative to check" in page
    md = eval_report_markdown(run)
    assert (f"- `{GOOD_STEM}`: diagnoses missed: knee sprain · diagnoses extra: shoulder "
            "<tendinitis> · body parts extra: left wrist · item 1: Physical therapy <twice> "
            "weekly & more: key facts missed: “twice weekly”; “red flag” / “neurologic”") in md


def test_narrative_lists_are_capped() -> None:
    """A letter with many missed diagnoses lists five and says how many more."""
    run, texts = narrative_run()
    dx = run["letters"][QTY_STEM]["narrative"]["diagnoses"]
    dx["missed"] = [f"condition {i}" for i in range(8)]
    dx["gold"] += 8
    block = diff_block(eval_report_html(run, texts), QTY_STEM)
    assert "condition 4" in block and "condition 5" not in block
    assert "and 3 more" in block


def test_compact_baseline_narrative_still_renders() -> None:
    """A baseline keeps narrative counts without phrase lists; its page renders them."""
    run, texts = narrative_run()
    for rec in run["letters"].values():
        n = rec["narrative"]
        for name in ("diagnoses", "body_parts"):
            n[name] = {k: n[name][k] for k in ("matched", "gold", "predicted")}
        n["why"] = {k: n["why"][k] for k in ("groups", "found", "items", "items_all_found")}
        n["grounding"] = {k: n["grounding"][k] for k in ("values", "grounded")}
    page = eval_report_html(run, texts)
    assert "narrative differs" in diff_block(page, GOOD_STEM)
    assert f"- `{GOOD_STEM}`: " in eval_report_markdown(run)


def test_model_run_shows_rules_raw_and_validated_side_by_side() -> None:
    """An llm run gets the three-column table; a column the run lacks shows n/a."""
    run, texts = narrative_run(raw=True)
    rules_headline = dict(run["headline"], all_decisions_right=0.5)
    run["rules_headline"] = rules_headline
    run["rules_narrative_totals"] = copy.deepcopy(run["narrative_totals"])
    run["rules_narrative_totals"]["diagnoses"]["f1"] = 0.25
    page = eval_report_html(run, texts)
    sides = section(page, "sides")
    assert re.search(r"<th[^>]*>Rules</th><th[^>]*>Raw model</th><th[^>]*>Validated model</th>",
                     sides)
    assert "<b>Rules</b>: the offline rules backend on the same letters" in sides
    assert "<b>Raw model</b>: what the model returned, before imr_llm checked it" in sides
    row = re.search(r'data-row="all_decisions_right">(.*?)</tr>', sides, re.S)
    assert row is not None
    assert re.findall(r'<td class="n[^"]*">([^<]*)</td>', row.group(1)) == \
        ["50.0%", "100%", "100%"]
    dx = re.search(r'data-row="diagnoses_f1">(.*?)</tr>', sides, re.S)
    assert dx is not None
    assert re.findall(r'<td class="n[^"]*">([^<]*)</td>', dx.group(1)) == \
        ["25.0%", "n/a", "83.3%"]  # no raw narrative totals in this run
    md = eval_report_markdown(run)
    assert "| measure | Rules | Raw model | Validated model |" in md
    assert "| Diagnoses (F1) | 25.0% | n/a | 83.3% |" in md


def test_model_run_without_rules_scores_shows_na_for_rules() -> None:
    """An llm run from before the rules column existed shows n/a under Rules."""
    run, texts = make_run(raw=True)
    sides = section(eval_report_html(run, texts), "sides")
    row = re.search(r'data-row="header_accuracy">(.*?)</tr>', sides, re.S)
    assert row is not None
    assert re.findall(r'<td class="n[^"]*">([^<]*)</td>', row.group(1)) == \
        ["n/a", "50.0%", "100%"]
    assert 'data-row="diagnoses_f1"' not in sides  # no narrative totals at all


def test_narrative_gate_verdict_per_metric_in_plain_words() -> None:
    """A narrative that got worse than the baseline fails the gate, metric by metric."""
    run, texts = narrative_run()
    clean, _ = make_run(wrong_quantity=False, wrong_decision=False)
    add_narrative(clean, {k: make_text(k) for k in clean["letters"]}, off_stem=None)
    scores = {k: v["score"] for k, v in run["letters"].items()}
    run["gate"] = compare(scores, scores)
    run["gate"]["narrative"] = compare_narrative(
        {k: v["narrative"] for k, v in clean["letters"].items()},
        {k: v["narrative"] for k, v in run["letters"].items()})
    run["gate"]["failed"] = run["gate"]["narrative"]["failed"]
    assert run["gate"]["failed"]
    page = eval_report_html(run, texts)
    gate = section(page, "gate")
    assert "What the worker is treated for, and why: worse than the baseline." in gate
    assert re.search(r'<li class="regressed">Diagnoses \(F1\): 100% in the baseline, 83\.3% '
                     r"now, over 3 letters \(1 worse, 0 better; p = 1\): got worse, so the gate "
                     r"fails\.</li>", gate)
    assert '<li class="regressed">Values tied to the letter: 100% in the baseline' in gate
    md = eval_report_markdown(run)
    assert "- Key facts of the reasons: 100% in the baseline, 77.8% now" in md


def test_narrative_gate_that_held_says_no_change() -> None:
    """Against an identical baseline every narrative metric reads no change."""
    run, texts = narrative_run()
    scores = {k: v["score"] for k, v in run["letters"].items()}
    narr = {k: v["narrative"] for k, v in run["letters"].items()}
    run["gate"] = compare(scores, scores)
    run["gate"]["narrative"] = compare_narrative(narr, narr)
    gate = section(eval_report_html(run, texts), "gate")
    assert "What the worker is treated for, and why: no worse than the baseline." in gate
    assert gate.count("): no change.</li>") == 4
    assert 'class="regressed"' not in gate
