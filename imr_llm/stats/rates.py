"""Uphold/overturn rates over a results.jsonl written by `imr-llm summarize --out`.

Pure functions (`service_category`, `wilson_interval`, `compute_stats`, the renderers) plus the
CLI entry `run_stats_cli`, the only part that reads files, prints, or draws.

Rates are per disputed item. "Upheld" means the UR denial stands (NOT medically necessary);
"overturned" means the item IS medically necessary. An item counts once under its service
category, once under EACH specialty of its letter's reviewer, and once under EACH of its
guideline sources, so the specialty and source tables sum to more than the item total.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imr_llm.errors import ConfigError, InputError

STATS_VERSION = "1"
Z_95 = 1.959963984540054  # two-sided 95% normal quantile
UNSPECIFIED = "(none stated)"
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("by_service_category", "Service category"),
    ("by_specialty", "Reviewer specialty"),
    ("by_guideline_source", "Guideline source"),
)

# ---------------------------------------------------------------------------------------------
# Service categories
# ---------------------------------------------------------------------------------------------

OTHER = "Other"

# Wrappers that say when or why, not what: stripped before matching.
_PREFIX = re.compile(
    r"^\s*(?:(?:associated\s+surgical\s+services?|retrospective(?:\s+request)?|"
    r"post[\s-]*op(?:erative)?|continu(?:e|ed|ation)(?:\s+(?:of|for|with))?|additional|"
    r"(?:one|two|three|four|five|six|\d+)\s+refills?\s+of)\s*[:,-]?\s*)+",
    re.IGNORECASE,
)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.VERBOSE)


def _names(pattern: str) -> re.Pattern[str]:
    """Like _rx, but every alternative must start a word ("cialis" is not in "specialist")."""
    return _rx(rf"\b(?:{pattern})")


# Checked in order; the first match wins. The order resolves real overlaps:
# "Pre-op chest x-ray" is a pre-op test, not imaging; "Referral to chiropractor for evaluation"
# is chiropractic; "Acupuncture with capsaicin patch" is acupuncture; "Voltaren gel" is topical,
# not an oral NSAID; "Consult ... for a total hip arthroplasty" is a consult, not surgery;
# "Myofascial release" is a passive modality, not a surgical release.
_CATEGORY_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "Lab/pre-op test",
        _rx(r"""
        medical\s+clearance | pre[\s-]*op(?:erative)?\s+clearance | \bclearance\b
        | \blabs?\b | laboratory | \b(?:EKG|ECG|CBC|BMP|CMP|UA|PT/PTT|PTT|INR|HbA1c)\b
        | electrocardiogram | urinalysis | chem(?:istry)?\s+panel | metabolic\s+panel
        | blood\s+(?:test|work) | urine\s+(?:drug\s+)?(?:test|screen) | drug\s+(?:test|screen)
        | toxicology | chest\s+x[\s-]*rays?
    """),
    ),
    ("Acupuncture", _rx(r"acupunct")),
    ("Chiropractic", _rx(r"chiro | spinal\s+manipulat | \bmanipulation\b | \bCMT\b")),
    (
        "Occupational therapy",
        _rx(r"""
        occupational\s+therap | \bOT\b(?!/) | hand\s+therapy | certified\s+hand\s+therap
    """),
    ),
    (
        "Physical therapy",
        _rx(r"""
        physical\s+therap | physiotherap | physio\s+therap | \bPT\b(?!/PTT) | aquatic\s+therap
        | pool\s+therap | home\s+exercise | therapeutic\s+exercise
        | work\s+(?:hardening|conditioning)
    """),
    ),
    (
        "Psychological",
        _rx(r"""
        psycholog | psychiatr | psychotherap | cognitive\s+behavio | \bCBT\b | biofeedback
        | counsel+ing | partial\s+hospitali | mental\s+health | hypnother
    """),
    ),
    (
        "Rehab program (FRP/inpatient)",
        _rx(r"""
        functional\s+restoration | \bFRP\b | rehabilitation\s+unit
        | inpatient\s+rehab | multidisciplinary | detox
    """),
    ),
    (
        "Home care/transport",
        _rx(r"""
        home\s+(?:health|aide|care|assist) | \baide\b | nurs(?:e|ing) | caregiver
        | transport | \btaxi\b | \bmileage\b | housekeep
    """),
    ),
    (
        "Topical compound/analgesic",
        _rx(r"""
        \b(?:creams?\b | gels?\b | ointment | lotion | patch(?:es)?\b | topical | transdermal
           | compound | liniment | salonpas | lidoderm | lidopro | terocin | flector | anecream
           | bengay | menthol | capsaicin | spray\b)
        | \d\s*%  | \d\s*(?:grams?|gms?)\b
    """),
    ),
    (
        "Opioid medication",
        _names(r"""
        norco | hydrocodone | vicodin | oxycodone | oxycontin | percocet | roxicodone | tramadol
        | ultram | ultracet | synapryn | codeine | trezix | morphine | \bMS\s*contin | fentanyl
        | duragesic | hydromorphone | dilaudid | methadone | tapentadol | nucynta | buprenorphine
        | butrans | suboxone | oxymorphone | opana | \bopioids?\b | \bopiates?\b
        | \bTylenol\s*(?:\#|no\.?)\s*[34]
    """),
    ),
    (
        "Muscle relaxant",
        _names(r"""
        cyclobenzaprine | flexeril | amrix | fexmid | tabradol | baclofen | tizanidine | zanaflex
        | carisoprodol | \bsoma\b | methocarbamol | robaxin | orphenadrine | norflex | metaxalone
        | skelaxin | chlorzoxazone | lorzone | parafon | dantrolene | muscle\s+relax
    """),
    ),
    (
        "NSAID",
        _names(r"""
        ibuprofen | motrin | advil | naproxen | naprosyn | anaprox | aleve | diclofenac
        | voltaren | arthrotec | zipsor | cambia | celecoxib | celebrex | meloxicam | mobic
        | etodolac | lodine | nabumetone | relafen | ketoprofen | flurbiprofen | indomethacin
        | ketorolac | toradol | piroxicam | feldene | oxaprozin | daypro | sulindac | fenoprofen
        | nalfon | duexis | vimovo | \baspirin\b | \bNSAIDs?\b | anti-?inflammator
    """),
    ),
    (
        "Other medication",
        _names(r"""
        omeprazole | prilosec | pantoprazole | protonix | esomeprazole | nexium | lansoprazole
        | prevacid | famotidine | pepcid | ranitidine | zantac | deprizine | misoprostol
        | ondansetron | zofran | docusate | colace | senna | laxative | gabapentin | neurontin
        | fanatrex | pregabalin | lyrica | topiramate | nortriptyline | amitriptyline | elavil
        | duloxetine | cymbalta | trazodone | sertraline | zoloft | fluoxetine | bupropion
        | venlafaxine | effexor | diazepam | valium | lorazepam | ativan | alprazolam | xanax
        | clonazepam | zolpidem | ambien | dicopanol | diphenhydramine | sildenafil | viagra
        | cialis | acetaminophen | tylenol | medrol | prednison | steroid\s+pack | antibiotic
        | keflex | lidocaine | sumatriptan | imitrex | medicat | prescription | \bRx\b
        | \b(?:tablets?|tabs?|capsules?|caps)\b | oral\s+suspension | by\s+mouth | \bpo\b
        | \bsupply\s+of\b
    """),
    ),
    ("MRI", _rx(r"\bMRI?s?\b | \bMR\s+arthrogra | magnetic\s+resonance | \bMRA\b")),
    ("CT", _rx(r"\bCT\b | computed\s+tomograph | \bCAT\s+scan")),
    ("X-ray", _rx(r"x[\s-]*rays? | radiograph | \bflexion[\s/-]+extension\s+views")),
    (
        "EMG/NCV",
        _rx(r"""
        \bEMG\b | \bNCV\b | \bNCS\b | electromyogra | nerve\s+conduction | electrodiagnos
    """),
    ),
    (
        "Injection",
        _rx(r"""
        inject | epidural | \bESIs?\b | facet | \bblocks?\b | platelet[\s-]*rich | \bPRP\b
        | radiofrequency | rhizotomy | ablation | viscosupplement | synvisc | hyaluron
        | cortisone | botox | botulinum | trigger\s+point\s+inj | neurolytic
    """),
    ),
    (
        "Evaluation/consult",
        _rx(r"""
        consult | referral | \brefer\b | \bTOC\b | transfer\s+of\s+care | second\s+opinion
        | re-?exam | follow[\s-]*up | office\s+visit | functional\s+capacity
    """),
    ),
    (
        "DME/supplies",
        _rx(r"""
        \bbraces?\b | \bsupports?\b | orthos[ie]s | orthotic | \bsplints?\b | \bslings?\b
        | ultrasling | \bpillows?\b | \bwraps?\b | \bpads?\b | \bTENS\b | \bEMS\b.*\bunit
        | \bH[\s-]?wave | interferential | \bunit\b | cold\s+(?:compression\s+)?therapy
        | cryotherap | hot/cold | heat(?:ing)?\s+(?:therapy\s+)?pad | wheelchair | commode
        | \bchairs?\b | scooter | walker | \bcanes?\b | crutch | \bbed\b | workstation
        | \bdesk\b | mattress | collar | \bbelt\b | insoles? | \bshoes?\b | \bkit\b | \bdme\b
        | durable\s+medical | vascutherm | game\s*ready | \brental\b | \bpurchase\b
        | bone\s+(?:growth\s+)?stimulator
    """),
    ),
    (
        "Passive modality",
        _rx(r"""
        infrared | ultrasound\s+(?:therapy|treatment) | pulsed\s+ultrasound | \bheat\b
        | electrical\s+(?:muscle\s+)?stim | e[\s-]?stim | \bEMS\b | myofascial\s+release
        | massage | shock\s*wave | \bESWT\b | traction | neurostimulation\s+therapy
        | \bLINT\b | laser\s+therap | diathermy | paraffin | \bmodalit
    """),
    ),
    (
        "Surgery",
        _rx(r"""
        surgery | surgical | arthroscop | arthroplast | \w+plasty | \w+ectomy | \w+otomy
        | \w+odesis | repair | replacement | reconstruct | fusion | decompression
        | \brelease\b | debridement | fixation | \bORIF\b | implant | assistant\s+surgeon
        | \bPA\s+assist | \bassistant\s+PA\b | co-?surgeon | anesthesi
    """),
    ),
    (
        "Evaluation/consult",
        _rx(r"""
        evaluat | \beval\b | assessment | \bexam(?:ination)?\b | specialist | \bvisit\b
    """),
    ),
    ("Other medication", _rx(r"\d\s*(?:mg|mcg|ml)\b | \#\s*\d+\s*$")),
)

SERVICE_CATEGORIES: tuple[str, ...] = (*dict.fromkeys(name for name, _ in _CATEGORY_RULES), OTHER)


def service_category(service: str) -> str:
    """The category of a free-text disputed service: "Norco 10/325mg #60" -> "Opioid medication"."""
    text = " ".join(str(service).split())
    core = _PREFIX.sub("", text) or text
    for name, pattern in _CATEGORY_RULES:
        if pattern.search(core):
            return name
    return OTHER


# ---------------------------------------------------------------------------------------------
# Rates
# ---------------------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for successes/n (95% by default); None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..{n}, got {successes}")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)  # exact at the edges, no 0.999...
    return (lo, hi)


@dataclass
class _Tally:
    upheld: int = 0
    overturned: int = 0

    @property
    def n(self) -> int:
        return self.upheld + self.overturned

    def add(self, decision: str) -> None:
        if decision == "upheld":
            self.upheld += 1
        else:
            self.overturned += 1


def _rate_row(key: str | None, tally: _Tally) -> dict[str, Any]:
    n = tally.n
    up_ci = wilson_interval(tally.upheld, n)
    ov_ci = wilson_interval(tally.overturned, n)
    row: dict[str, Any] = {} if key is None else {"key": key}
    row.update(
        {
            "n": n,
            "upheld": tally.upheld,
            "overturned": tally.overturned,
            "uphold_rate": tally.upheld / n if n else None,
            "uphold_ci95": list(up_ci) if up_ci else None,
            "overturn_rate": tally.overturned / n if n else None,
            "overturn_ci95": list(ov_ci) if ov_ci else None,
        }
    )
    return row


def _rows(tallies: Mapping[str, _Tally]) -> list[dict[str, Any]]:
    ordered = sorted(tallies.items(), key=lambda kv: (-kv[1].n, kv[0].casefold()))
    return [_rate_row(key, t) for key, t in ordered]


@dataclass
class _Acc:
    letters: int = 0
    items: int = 0
    undecided_items: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    overall: _Tally = field(default_factory=_Tally)
    by_category: dict[str, _Tally] = field(default_factory=dict)
    by_specialty: dict[str, _Tally] = field(default_factory=dict)
    by_source: dict[str, _Tally] = field(default_factory=dict)


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [" ".join(v.split()) for v in value if isinstance(v, str) and v.strip()]


def _add_letter(acc: _Acc, record: Mapping[str, Any]) -> None:
    items = record["items"]
    reviewer = record.get("reviewer")
    specialties = _strings(reviewer.get("specialties") if isinstance(reviewer, dict) else None)
    specialties = list(dict.fromkeys(specialties)) or [UNSPECIFIED]
    acc.letters += 1
    if isinstance(record.get("outcome"), str):
        acc.outcomes[record["outcome"]] += 1
    for item in items:
        acc.items += 1
        if not isinstance(item, dict) or item.get("decision") not in ("upheld", "overturned"):
            acc.undecided_items += 1
            continue
        decision = str(item["decision"])
        sources = list(dict.fromkeys(_strings(item.get("guideline_sources")))) or [UNSPECIFIED]
        keys_by_dim = (
            (acc.by_category, [service_category(str(item.get("service") or ""))]),
            (acc.by_specialty, specialties),
            (acc.by_source, sources),
        )
        acc.overall.add(decision)
        for table, keys in keys_by_dim:
            for key in keys:
                table.setdefault(key, _Tally()).add(decision)


def compute_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts and uphold/overturn rates (Wilson 95% CI) overall and by category, specialty, source.

    Error records (`{"source": ..., "error": {"type": ...}}`) are counted by type; a record that
    is neither an error nor a summary with an `items` list counts as error type "InvalidRecord".
    Items whose decision is not "upheld"/"overturned" count in `items` and `undecided_items`
    but in no rate. Rows are sorted by item count, largest first.
    """
    acc = _Acc()
    for record in records:
        error = record.get("error") if isinstance(record, Mapping) else None
        if error is not None:
            etype = error.get("type") if isinstance(error, dict) else None
            acc.errors[etype if isinstance(etype, str) and etype else "UnknownError"] += 1
        elif isinstance(record, Mapping) and isinstance(record.get("items"), list):
            _add_letter(acc, record)
        else:
            acc.errors["InvalidRecord"] += 1
    errors_by_type = dict(sorted(acc.errors.items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "stats_version": STATS_VERSION,
        "letters": acc.letters,
        "items": acc.items,
        "undecided_items": acc.undecided_items,
        "errors": {"total": sum(acc.errors.values()), "by_type": errors_by_type},
        "outcomes": dict(sorted(acc.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "overall": _rate_row(None, acc.overall),
        "by_service_category": _rows(acc.by_category),
        "by_specialty": _rows(acc.by_specialty),
        "by_guideline_source": _rows(acc.by_source),
    }


# ---------------------------------------------------------------------------------------------
# Reading results.jsonl
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultsFile:
    """The parsed records of a results.jsonl and what was skipped on the way."""

    path: str
    records: list[dict[str, Any]]
    lines: int
    blank_lines: int
    torn_lines: int
    superseded: int = 0


def latest_per_path(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The last record of each input path (a re-run after a file changed appends a newer one),
    in file order; plus how many older records were dropped."""
    last: dict[str, int] = {}
    for k, rec in enumerate(records):
        path = (rec.get("source") or {}).get("path")
        if path is not None:
            last[str(path)] = k
    keep = [rec for k, rec in enumerate(records)
            if (p := (rec.get("source") or {}).get("path")) is None or last[str(p)] == k]
    return keep, len(records) - len(keep)


def read_results(path: str | Path) -> ResultsFile:
    """Parse JSON Lines; blank lines and torn/invalid lines are skipped and counted."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"results file not found: {p}: check the path, or write one with "
            f"`imr-llm summarize DIR --out {p}`"
        ) from None
    except IsADirectoryError:
        raise InputError(f"results path is a directory: {p}: pass the .jsonl file") from None
    except OSError as exc:
        raise InputError(f"cannot read results file {p}: {exc.strerror or exc}") from None
    records: list[dict[str, Any]] = []
    lines = blank = torn = 0
    for line in raw.splitlines():
        lines += 1
        if not line.strip():
            blank += 1
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            torn += 1
            continue
        if isinstance(obj, dict):
            records.append(obj)
        else:
            torn += 1
    records, superseded = latest_per_path(records)
    return ResultsFile(str(p), records, lines, blank, torn, superseded)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _pct(rate: float | None) -> str:
    return "" if rate is None else f"{100 * rate:.0f}%"


def _ci(ci: list[float] | None) -> str:
    return "" if ci is None else f"{100 * ci[0]:.0f}–{100 * ci[1]:.0f}%"


def _summary_facts(stats: Mapping[str, Any]) -> list[tuple[str, str]]:
    o = stats["overall"]
    facts = [
        ("letters", str(stats["letters"])),
        ("items", str(stats["items"])),
        ("upheld", str(o["upheld"])),
        ("overturned", str(o["overturned"])),
        ("uphold rate (95% CI)", f"{_pct(o['uphold_rate'])} ({_ci(o['uphold_ci95'])})"),
    ]
    if stats.get("undecided_items"):
        facts.append(("items without a decision", str(stats["undecided_items"])))
    for outcome, n in stats.get("outcomes", {}).items():
        facts.append((f"letters {outcome}", str(n)))
    facts.append(("error records", str(stats["errors"]["total"])))
    facts.extend((f"  {etype}", str(n)) for etype, n in stats["errors"]["by_type"].items())
    inp = stats.get("input")
    if inp:
        facts.append(("blank lines skipped", str(inp["blank_lines"])))
        facts.append(("torn lines skipped", str(inp["torn_lines"])))
    return facts


_ROW_NOTE = {
    "by_specialty": "an item counts under each specialty of its reviewer",
    "by_guideline_source": "an item counts under each source it cites",
}


def render_markdown(stats: Mapping[str, Any]) -> str:
    """The stats as Markdown: a facts table, then one table per dimension."""
    title = "IMR uphold/overturn rates"
    if stats.get("input"):
        title += f": {stats['input']['path']}"
    out = [f"# {title}", "", "| | |", "|---|---:|"]
    out += [f"| {k.strip()} | {v} |" for k, v in _summary_facts(stats)]
    out += ["", "Upheld = UR denial stands (not medically necessary). CI = Wilson 95%.", ""]
    for key, label in DIMENSIONS:
        out.append(f"## By {label.lower()}")
        if key in _ROW_NOTE:
            out += ["", f"_{_ROW_NOTE[key][0].upper()}{_ROW_NOTE[key][1:]}._"]
        out += [
            "",
            f"| {label} | n | upheld | overturned | % upheld | 95% CI |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in stats[key]:
            name = str(r["key"]).replace("|", "\\|")
            out.append(
                f"| {name} | {r['n']} | {r['upheld']} | {r['overturned']} | "
                f"{_pct(r['uphold_rate'])} | {_ci(r['uphold_ci95'])} |"
            )
        out.append("")
    return "\n".join(out)


def render_text(stats: Mapping[str, Any], console: Any) -> None:
    """Rich tables on `console`: totals, then one table per dimension."""
    from rich.table import Table

    facts = Table(title="IMR uphold/overturn rates", show_header=False)
    facts.add_column("", style="bold")
    facts.add_column("", justify="right")
    for k, v in _summary_facts(stats):
        facts.add_row(k, v)
    console.print(facts)
    for key, label in DIMENSIONS:
        caption = "Upheld = UR denial stands. CI = Wilson 95%."
        if key in _ROW_NOTE:
            caption += f" Note: {_ROW_NOTE[key]}."
        table = Table(title=f"By {label.lower()}", caption=caption)
        table.add_column(label)  # the only column that may wrap on a narrow terminal
        for col in ("n", "upheld", "overturned", "% upheld", "95% CI"):
            table.add_column(col, justify="right", no_wrap=True)
        for r in stats[key]:
            table.add_row(
                str(r["key"]),
                str(r["n"]),
                str(r["upheld"]),
                str(r["overturned"]),
                _pct(r["uphold_rate"]),
                _ci(r["uphold_ci95"]),
            )
        console.print(table)


def plot_service_categories(stats: Mapping[str, Any], out: str | Path) -> Path:
    """Draw uphold rate by service category (Wilson 95% error bars, counts labelled) to a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib, which is not installed: pip install 'imr-llm[stats]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    rows = [r for r in stats["by_service_category"] if r["n"] >= 1]
    rows.sort(key=lambda r: (-r["n"], str(r["key"]).casefold()))
    rows.reverse()  # barh draws bottom-up: the largest category ends on top
    names = [f"{r['key']}  (n={r['n']})" for r in rows]
    rates = [100 * r["uphold_rate"] for r in rows]
    lo_err = [100 * (r["uphold_rate"] - r["uphold_ci95"][0]) for r in rows]
    hi_err = [100 * (r["uphold_ci95"][1] - r["uphold_rate"]) for r in rows]

    height = 1.6 + 0.36 * max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(10, height), dpi=150)
    try:
        y = list(range(len(rows)))
        ax.barh(
            y, rates, height=0.65, color="#A9C4E6", edgecolor="#4C72B0", linewidth=0.8, zorder=2
        )
        ax.errorbar(
            rates,
            y,
            xerr=[lo_err, hi_err],
            fmt="none",
            ecolor="#1A1A1A",
            elinewidth=1.2,
            capsize=3.5,
            zorder=3,
        )
        for yi, r in zip(y, rows, strict=True):
            ax.text(
                101.5,
                yi,
                f"{_pct(r['uphold_rate'])}  ({r['upheld']}/{r['n']})",
                va="center",
                ha="left",
                fontsize=9,
                clip_on=False,
            )
        overall = stats["overall"]
        if overall["uphold_rate"] is not None:
            x = 100 * overall["uphold_rate"]
            ax.axvline(
                x,
                color="#C44E52",
                linestyle="--",
                linewidth=1.2,
                zorder=1,
                label=f"all items: {_pct(overall['uphold_rate'])} upheld (n={overall['n']})",
            )
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=9)
        ax.set_yticks(y, names, fontsize=9.5)
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_xlabel(
            "Share of disputed items upheld (UR denial stands: not medically necessary)"
            "\nbars: observed rate; whiskers: Wilson 95% CI; right: rate (upheld/n)"
        )
        ax.grid(axis="x", color="#DDDDDD", zorder=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(
            f"IMR uphold rate by service category — {overall['n']} items, "
            f"{stats['letters']} letters",
            fontsize=12,
            pad=26,
            loc="left",
        )
        fig.tight_layout()
        target = Path(out)
        try:
            fig.savefig(target, format="png")
        except OSError as exc:
            raise ConfigError(
                f"cannot write --plot {target}: {exc.strerror or exc}: "
                "pass a path in a writable, existing directory"
            ) from None
    finally:
        plt.close(fig)
    return target


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def run_stats_cli(args: argparse.Namespace) -> int:
    """`imr-llm stats RESULTS [--plot PNG] [--format text|json|markdown]`."""
    results = read_results(args.results)
    stats = compute_stats(results.records)
    stats["input"] = {
        "path": results.path,
        "lines": results.lines,
        "blank_lines": results.blank_lines,
        "torn_lines": results.torn_lines,
    }
    plot = getattr(args, "plot", None)
    if plot:
        written = plot_service_categories(stats, plot)
        stats["plot"] = str(written)
    fmt = getattr(args, "format", "text") or "text"
    if fmt == "json":
        print(json.dumps(stats, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        print(render_markdown(stats))
    else:
        from rich.console import Console

        console = Console(highlight=False)
        render_text(stats, console)
        if plot:
            console.print(f"chart written to {plot}")
    return 0
