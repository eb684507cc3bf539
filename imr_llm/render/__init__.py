"""Rendering: pure functions from a summary (or an eval run dict) to text for people.

    text        the rich terminal view
    markdown    the Markdown report
    csv         one CSV row per disputed item
    review      the HTML review page (a summary beside its highlighted letter)
    evalreport  the eval report: Markdown, and the public names of the HTML page
    evalpage    the HTML eval report's values; evaldiff one letter's diff and the field words
    highlight   the letter text with spans wrapped in marks, always well formed
    templating  the Jinja2 environment: templates/*.html (autoescape), static/*.css inlined
    format      the shared helpers: escape, clip, slug, percentages, US dates, quantities

No HTML or CSS lives inside Python strings (the marks of highlight.py are built as Markup).
May import imr_llm.schema, imr_llm.letter and imr_llm.evaluation (fields, metrics, scoring);
never imr_llm.llm.
"""
