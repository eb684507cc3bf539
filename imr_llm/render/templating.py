"""The Jinja2 environment of the HTML pages: templates/*.html, static/*.css, one escape.

Templates are written as indented HTML and render as one line: every line break (blank lines
too) and the indentation after it are dropped from the template source before it is compiled.
A space that is meant is written on the line; no tag or expression spans two lines.
Autoescape is on, and every `{{ value }}` goes through
`format.escape` (markup passes through as is), so the pages are escaped in one place.
The CSS is read from static/ and inlined, so a page stays a single self-contained file.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from jinja2.ext import Extension
from markupsafe import Markup

from imr_llm.render.format import escape

__all__ = ["css", "render"]

_LINE_BREAK = re.compile(r"\n\s*(?=\S)")


class _OneLine(Extension):
    """Drops each line break of the template source, with the indentation that follows it."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return _LINE_BREAK.sub("", source)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("imr_llm.render", "templates"),
        autoescape=True,
        finalize=escape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        extensions=[_OneLine],
    )


@cache
def css(*names: str) -> Markup:
    """The named stylesheets of static/, concatenated, ready to inline in a <style>."""
    static = resources.files("imr_llm.render").joinpath("static")
    return Markup("".join(static.joinpath(n).read_text(encoding="utf-8") for n in names))


def render(template: str, **context: Any) -> str:
    """The rendered template, as a str."""
    return str(_environment().get_template(template).render(**context))
