"""Scoring predicted summaries against gold labels, totals, the baseline gate, the eval run.

    fields     the field registry: label, kind, weight, span check, highlight (pure data)
    normalise  value normalisation, verdicts, paths, Observation
    matching   service similarity and the optimal (Hungarian) item pairing
    spans      provenance span checks (the registry's span_check names -> functions)
    facts      key facts of gold stated in a predicted summary text
    score      one letter -> LetterScore (`score_letter`: its run.json dict)
    metrics    many letters -> RunTotals (`aggregate`: its run.json dict), headline
    gate       exact McNemar gate of a run against a baseline
    run        pair letters with gold, predict (injected), score, total
    narrative  the NARRATIVE.md scorer (diagnoses, body parts, key facts of `why`, grounding)
               and its paired gate

May import: the standard library, `imr_llm.errors`, `imr_llm.letter`, `imr_llm.schema`,
`imr_llm.settings` and `imr_llm.version`. Never `imr_llm.llm`, `imr_llm.api`, `imr_llm.batch`
or `imr_llm.render` (render imports evaluation): `imr_llm.eval_cli` wires those in.
"""
