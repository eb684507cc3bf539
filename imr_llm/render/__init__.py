"""Rendering: pure functions from a summary (or an eval run dict) to text for people.

    text        the rich terminal view
    markdown    the Markdown report
    csv         one CSV row per disputed item
    review      the HTML review page (a summary beside its highlighted letter)
    evalreport  the eval report (Markdown and HTML)
    highlight   the letter text with spans wrapped in marks, always well formed
    format      the shared helpers: escape, clip, slug, percentages, dates
    templates/  Jinja2 templates (autoescape); static/ the CSS they inline

No HTML or CSS lives inside Python strings. May import imr_llm.schema, imr_llm.letter and
imr_llm.evaluation (fields, metrics, scoring); never imr_llm.llm.
"""
