"""Unit tests of imr_llm.stats: categories, Wilson intervals, JSONL, CLI."""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from imr_llm.cli import main
from imr_llm.errors import ConfigError, InputError
from imr_llm.stats import (
    OTHER,
    SERVICE_CATEGORIES,
    UNSPECIFIED,
    compute_stats,
    plot_service_categories,
    read_results,
    render_markdown,
    run_stats_cli,
    service_category,
    wilson_interval,
)

# Services exactly as the rules backend reads them from the 144 real letters.
REAL_SERVICES: list[tuple[str, str]] = [
    ("Continue physical therapy 3 times a week for 2 weeks", "Physical therapy"),
    ("Post-op physical therapy 2 times a week for 4 weeks", "Physical therapy"),
    ("Associated surgical service: Physical therapy, times 12", "Physical therapy"),
    ("Physical therapy evaluation, cervical and thoracic spine", "Physical therapy"),
    (
        "Chirophysio therapy two times a week for four weeks for the right elbow and right knee",
        "Chiropractic",
    ),
    (
        "Referral to chiropractor for evaluation of low back pain and left groin pain, twice a "
        "week for 3 weeks",
        "Chiropractic",
    ),
    ("Re-exam with chiropractor for the lumbar spine flare-up", "Chiropractic"),
    ("Spinal manipulation therapy 2 times a week for 4 weeks", "Chiropractic"),
    ("Twelve acupuncture visits with Capsaicin patch, 2 times weekly for 6 weeks", "Acupuncture"),
    ("Electro acupuncture to the low back two times a week times six weeks", "Acupuncture"),
    ("continuation for left hand therapy for 6 sessions", "Occupational therapy"),
    ("Occupational therapy for six sessions", "Occupational therapy"),
    ("MRI (magnetic resonance imaging) of the cervical spine", "MRI"),
    ("MR Arthrogram of the right shoulder", "MRI"),
    ("Left knee MRI without contrast", "MRI"),
    ("Cervical CT scan", "CT"),
    ("X-Ray of the lumbar spine", "X-ray"),
    ("Labs to include: Chest X-ray", "Lab/pre-op test"),
    ("Pre-op chest x-ray", "Lab/pre-op test"),
    ("Associated surgical service: Labs - PT/PTT", "Lab/pre-op test"),
    ("Preoperative Medical Clearance", "Lab/pre-op test"),
    ("Urine drug testing", "Lab/pre-op test"),
    (
        "EMG (electromyography)/NCV (nerve conduction velocity) of the bilateral upper extremities",
        "EMG/NCV",
    ),
    ("Nerve Conduction Study of the right upper extremity", "EMG/NCV"),
    ("Right L4 transforaminal epidural steroid injection under fluoroscopic guidance", "Injection"),
    ("Facet joint injections L4-5, L5-S1", "Injection"),
    ("One platelet-rich plasma injection to the right knee", "Injection"),
    ("Right shoulder arthroscopy RCR (rotator cuff repair) and decompression", "Surgery"),
    ("Right knee arthroscopy with evaluation of ACL, medical meniscectomy", "Surgery"),
    ("Assistant surgeon", "Surgery"),
    ("PA assist", "Surgery"),
    ("Norco 10/325mg #35", "Opioid medication"),
    ("Post-op Percocet 5/325mg", "Opioid medication"),
    ("Synapryn (10mg/1ml oral suspension) 500ml", "Opioid medication"),
    ("one month supply of Trezix capsule 30.5/30/16mg", "Opioid medication"),
    ("Flexeril 10mg #60", "Muscle relaxant"),
    ("Lorzone 750mg one by mouth three times a day #45", "Muscle relaxant"),
    ("Tabradol 1mg/ml oral suspension, 250ml", "Muscle relaxant"),
    ("Diclofenac/misoprostol 75-0.2mg #60 with 2 refills", "NSAID"),
    ("Two refills of Ibuprofen 600mg #90", "NSAID"),
    (
        "Voltaren gel apply to affected area 4 times a day, #60 grams with 1 refill, "
        "DOS: 11/11/2016",
        "Topical compound/analgesic",
    ),
    (
        "Flurbiprofen 10%/Dextromethorphan 5%/Lidocaine 5%, 120grams #1",
        "Topical compound/analgesic",
    ),
    ("Compound Ketoprofen 20%, 240 grams", "Topical compound/analgesic"),
    (
        "Lidoderm patch, 12 hours on 12 hours off to affected area, #1 box with 1 refill, "
        "DOS: 11/11/2016",
        "Topical compound/analgesic",
    ),
    ("Salonpas pad #60", "Topical compound/analgesic"),
    ("Pantoprazole 40mg, one by mouth, twice a day #60 with one refill", "Other medication"),
    ("Three months coverage of Viagra 50mg", "Other medication"),
    (
        "Diazepam (Valium) 5mg take 1 tab orally 1 hour before exam, may repeat dose 1/2 hour "
        "after first dose for anxiety",
        "Other medication",
    ),
    ("Fanatrex 25mg/ml oral suspension 420ml", "Other medication"),
    ("Associated surgical service: Shoulder sling with abduction pillow", "DME/supplies"),
    ("Associated surgical service: Cold compression therapy 30 day rental", "DME/supplies"),
    ("Associated surgical service: EMS/TENS unit", "DME/supplies"),
    ("Custom touch back heat therapy pad", "DME/supplies"),
    ("purchase of a bedside 3 in 1 commode", "DME/supplies"),
    ("Sit-stand workstation", "DME/supplies"),
    (
        "Consult with hip replacement specialist to evaluation for a total hip arthroplasty",
        "Evaluation/consult",
    ),
    ("TOC to ortho spine surgeon eval and treatment", "Evaluation/consult"),
    ("Neurosurgeon evaluation for the Low back/Pelvis", "Evaluation/consult"),
    (
        "Home aide 6 hours per day, 5 times a week for 4 weeks to assist with mobility, transfer, "
        "ADL's and safety in the home when wife is working",
        "Home care/transport",
    ),
    ("Transportation to/from all medical appointments", "Home care/transport"),
    ("Comprehensive psychological testing", "Psychological"),
    ("Partial Hospitalization day treatment", "Psychological"),
    ("one week trial of Acute Rehabilitation Unit", "Rehab program (FRP/inpatient)"),
    ("Myofascial release to the low back two times a week times six weeks", "Passive modality"),
    ("Extracorporeal shockwave therapy (ESWT)", "Passive modality"),
    ("Retrospective E-stim (DOS 12/29/16)", "Passive modality"),
    ("Gym membership", OTHER),
]


def item(
    service: str, decision: str = "upheld", sources: list[str] | None = None
) -> dict[str, Any]:
    """One SPEC item with the fields stats reads."""
    return {
        "service": service,
        "quantity": None,
        "quantity_unit": None,
        "decision": decision,
        "medically_necessary": decision == "overturned",
        "guideline_sources": ["MTUS"] if sources is None else sources,
    }


_SERIAL = itertools.count()  # each record its own input path, as in a real batch


def letter(
    items: list[dict[str, Any]], specialties: list[str] | None = None, outcome: str | None = None
) -> dict[str, Any]:
    """A SPEC summary record as summarize --out writes it."""
    decisions = {i.get("decision") for i in items if isinstance(i, dict)}
    return {
        "schema_version": "1",
        "source": {"format": "dwc-2014", "path": f"x{next(_SERIAL)}.txt", "sha256": "0" * 64},
        "case": {"case_number": "CM16-0000001"},
        "reviewer": {
            "licensure_states": ["California"],
            "specialties": ["Family Practice"] if specialties is None else specialties,
        },
        "patient": {"age": 40, "sex": "female"},
        "items": items,
        "outcome": outcome or (decisions.pop() if len(decisions) == 1 else "mixed"),
    }


def error_record(etype: str = "InputError") -> dict[str, Any]:
    """An error record as summarize --out writes it."""
    return {
        "source": {"path": "bad.pdf", "sha256": "1" * 64},
        "error": {"type": etype, "message": "no text layer"},
    }


def row(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The stats row with this key."""
    return next(r for r in rows if r["key"] == key)


@pytest.mark.parametrize(("service", "expected"), REAL_SERVICES)
def test_real_service_strings_map_to_expected_category(service: str, expected: str) -> None:
    """Real decision-line wording lands in the category a claims researcher expects."""
    assert service_category(service) == expected


def test_every_category_is_declared() -> None:
    """Every category returned is in SERVICE_CATEGORIES, and Other is last."""
    assert {service_category(s) for s, _ in REAL_SERVICES} <= set(SERVICE_CATEGORIES)
    assert SERVICE_CATEGORIES[-1] == OTHER
    assert len(set(SERVICE_CATEGORIES)) == len(SERVICE_CATEGORIES)


def test_brand_names_match_only_whole_words() -> None:
    """ "cialis" inside "specialist" does not make a consult a medication."""
    assert service_category("Referral to a pain specialist") == "Evaluation/consult"
    assert service_category("Cialis 5mg #30") == "Other medication"


def test_empty_or_unknown_service_is_other() -> None:
    """Unrecognised or empty text falls to Other rather than raising."""
    assert service_category("") == OTHER
    assert service_category("Something entirely novel") == OTHER


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (81, 263, 0.2552885, 0.3662096),  # Newcombe (1998), Stat Med 17:857, example (Wilson)
        (0, 10, 0.0, 0.2775328),
        (5, 10, 0.2365931, 0.7634069),
        (10, 10, 0.7224672, 1.0),
        (1, 1, 0.2065493, 1.0),
    ],
)
def test_wilson_interval_matches_known_values(k: int, n: int, lo: float, hi: float) -> None:
    """Wilson 95% bounds agree with published/reference values to 1e-6."""
    got = wilson_interval(k, n)
    assert got is not None
    assert got[0] == pytest.approx(lo, abs=1e-6)
    assert got[1] == pytest.approx(hi, abs=1e-6)


def test_wilson_interval_agrees_with_scipy() -> None:
    """The pure-Python interval equals scipy's Wilson interval across many k/n."""
    stats = pytest.importorskip("scipy.stats")
    for n in (1, 2, 7, 30, 101):
        for k in range(n + 1):
            ref = stats.binomtest(k, n).proportion_ci(method="wilson")
            got = wilson_interval(k, n)
            assert got is not None
            assert math.isclose(got[0], ref.low, abs_tol=1e-9)
            assert math.isclose(got[1], ref.high, abs_tol=1e-9)


def test_wilson_interval_of_nothing_is_none_and_bad_counts_raise() -> None:
    """n=0 has no interval; successes outside 0..n is a programming error."""
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


def test_rates_counts_and_intervals_on_crafted_records() -> None:
    """Counts, rates and Wilson CIs per category, specialty and source have known values."""
    records = [
        letter(
            [
                item("MRI of the lumbar spine"),
                item("MRI of the right knee", "overturned"),
                item("Norco 10/325mg #60", sources=["MTUS", "ODG"]),
            ],
            specialties=["Pain Management", "Anesthesiology"],
        ),
        letter(
            [
                item("MRI of the cervical spine", sources=[]),
                item("Physical therapy 2x6", "overturned"),
            ],
            specialties=["Pain Management"],
        ),
    ]
    stats = compute_stats(records)
    assert (stats["letters"], stats["items"], stats["errors"]["total"]) == (2, 5, 0)
    assert stats["outcomes"] == {"mixed": 2}
    overall = stats["overall"]
    assert (overall["n"], overall["upheld"], overall["overturned"]) == (5, 3, 2)
    assert overall["uphold_rate"] == pytest.approx(0.6)
    assert overall["overturn_rate"] == pytest.approx(0.4)
    lo, hi = overall["uphold_ci95"]
    assert (lo, hi) == pytest.approx((0.2307243, 0.8823792), abs=1e-6)

    mri = row(stats["by_service_category"], "MRI")
    assert (mri["n"], mri["upheld"], mri["overturned"]) == (3, 2, 1)
    assert mri["uphold_rate"] == pytest.approx(2 / 3)
    assert mri["uphold_ci95"] == pytest.approx(list(wilson_interval(2, 3) or ()))
    assert mri["overturn_ci95"] == pytest.approx(list(wilson_interval(1, 3) or ()))
    assert [r["key"] for r in stats["by_service_category"]] == [
        "MRI",
        "Opioid medication",
        "Physical therapy",
    ]  # count desc, then name

    pain = row(stats["by_specialty"], "Pain Management")
    anes = row(stats["by_specialty"], "Anesthesiology")
    assert (pain["n"], pain["upheld"]) == (5, 3)  # every item of both letters
    assert (anes["n"], anes["upheld"], anes["overturned"]) == (3, 2, 1)

    sources = {r["key"]: r["n"] for r in stats["by_guideline_source"]}
    assert sources == {"MTUS": 4, "ODG": 1, UNSPECIFIED: 1}
    assert [r["n"] for r in stats["by_guideline_source"]] == [4, 1, 1]


def test_error_records_are_counted_by_type_not_crashing() -> None:
    """Error and malformed records count by type and add nothing to the rates."""
    records = [
        error_record("InputError"),
        error_record("InputError"),
        error_record("ExtractionError"),
        {"source": {"path": "y"}, "error": "just a string"},
        {"unexpected": True},
        letter([item("Acupuncture for 2 sessions", "overturned")], specialties=[]),
    ]
    stats = compute_stats(records)
    assert stats["errors"] == {
        "total": 5,
        "by_type": {"InputError": 2, "ExtractionError": 1, "InvalidRecord": 1, "UnknownError": 1},
    }
    assert (stats["letters"], stats["items"]) == (1, 1)
    assert stats["overall"]["overturn_rate"] == 1.0
    assert row(stats["by_specialty"], UNSPECIFIED)["n"] == 1


def test_items_without_a_valid_decision_are_counted_but_not_rated() -> None:
    """An item with a missing/odd decision counts in items, not in any rate."""
    stats = compute_stats(
        [letter([item("MRI of the knee"), item("MRI of the hip", "pending"), "not-an-item"])]
    )  # type: ignore[list-item]  # torn item
    assert (stats["items"], stats["undecided_items"], stats["overall"]["n"]) == (3, 2, 1)


def test_empty_input_gives_zero_counts_and_null_rates() -> None:
    """No records: zero counts, null rates and intervals, empty tables."""
    stats = compute_stats([])
    assert stats["overall"]["uphold_rate"] is None
    assert stats["overall"]["uphold_ci95"] is None
    assert stats["by_service_category"] == []


def write_jsonl(path: Path, records: list[dict[str, Any]], *, tail: str = "") -> Path:
    """Write records as JSON Lines, then any raw tail text (a torn last line, blanks)."""
    body = "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(body + tail, encoding="utf-8")
    return path


def test_torn_and_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    """A half-written last line, a non-object line and blank lines are skipped and counted."""
    recs = [letter([item("MRI of the knee")]), error_record()]
    path = write_jsonl(tmp_path / "r.jsonl", recs, tail='\n  \n[1, 2]\n{"schema_version": "1", "it')
    path.write_bytes(path.read_bytes() + b"\n\xff\xfe{}\n")
    got = read_results(path)
    assert len(got.records) == 2
    assert (got.blank_lines, got.torn_lines) == (2, 3)
    assert got.lines == 7


def test_missing_results_file_raises_input_error(tmp_path: Path) -> None:
    """A missing path or a directory is a one-line InputError naming the path."""
    with pytest.raises(InputError, match=r"results file not found: .*nope\.jsonl"):
        read_results(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="directory"):
        read_results(tmp_path)


def test_cli_json_format_reports_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`imr-llm stats FILE --format json` prints the stats with input line counts."""
    recs = [
        letter(
            [item("Norco 10/325mg #60"), item("Physical therapy, 6 sessions", "overturned")],
            specialties=["Occupational Medicine"],
        ),
        letter([item("Norco 5/325mg #30")], specialties=["Family Practice"]),
        error_record("InputError"),
    ]
    path = write_jsonl(tmp_path / "results.jsonl", recs, tail='{"torn')
    assert main(["stats", str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["letters"], out["items"]) == (2, 3)
    assert out["errors"]["by_type"] == {"InputError": 1}
    assert out["input"]["torn_lines"] == 1
    opioid = row(out["by_service_category"], "Opioid medication")
    assert (opioid["n"], opioid["uphold_rate"]) == (2, 1.0)
    assert "plot" not in out


def test_cli_missing_file_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing results file exits non-zero with one stderr line and no traceback."""
    code = main(["stats", str(tmp_path / "missing.jsonl")])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("imr-llm: error: results file not found")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_cli_text_and_markdown_list_each_dimension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """Text and Markdown output name each dimension and the categories seen."""
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [letter([item("TENS unit"), item("Lumbar support")], specialties=["Sports Medicine"])],
    )
    assert main(["stats", str(path), "--format", fmt]) == 0
    out = capsys.readouterr().out
    for needle in (
        "service category",
        "reviewer specialty",
        "guideline source",
        "DME/supplies",
        "Sports Medicine",
        "MTUS",
    ):
        assert needle in out


def test_markdown_escapes_pipes_in_keys() -> None:
    """A pipe in a specialty cannot break the Markdown table."""
    md = render_markdown(compute_stats([letter([item("MRI")], specialties=["A|B"])]))
    assert "| A\\|B | 1 |" in md


def test_plot_is_written_as_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--plot writes a real PNG file (checked by its signature bytes)."""
    pytest.importorskip("matplotlib")
    recs = [
        letter(
            [
                item(s, "overturned" if i % 4 == 0 else "upheld")
                for i, (s, _) in enumerate(REAL_SERVICES)
            ]
        )
    ]
    path = write_jsonl(tmp_path / "r.jsonl", recs)
    png = tmp_path / "chart.png"
    assert main(["stats", str(path), "--plot", str(png), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["plot"] == str(png)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_plot_into_missing_directory_is_config_error(tmp_path: Path) -> None:
    """An unwritable --plot path raises ConfigError, not an OSError traceback."""
    pytest.importorskip("matplotlib")
    stats = compute_stats([letter([item("MRI of the knee")])])
    with pytest.raises(ConfigError, match="cannot write --plot"):
        plot_service_categories(stats, tmp_path / "no" / "such" / "dir.png")


def test_missing_matplotlib_raises_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without matplotlib, --plot says how to install it."""
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    args = argparse.Namespace(
        results=str(write_jsonl(tmp_path / "r.jsonl", [])),
        plot=str(tmp_path / "x.png"),
        format="json",
    )
    with pytest.raises(ConfigError, match=r"pip install 'imr-llm\[stats\]'"):
        run_stats_cli(args)


def test_a_re_summarized_file_counts_once_with_its_latest_record(tmp_path):
    """A results file with two records for one path (the file changed) keeps the newer one."""
    from imr_llm.stats import read_results

    old = {"source": {"path": "a.txt", "sha256": "1"}, "items": [], "outcome": "upheld"}
    new = {"source": {"path": "a.txt", "sha256": "2"}, "items": [], "outcome": "overturned"}
    other = {"source": {"path": "b.txt", "sha256": "3"}, "items": [], "outcome": "upheld"}
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in (old, other, new)) + "\n")
    res = read_results(f)
    assert [r["source"]["sha256"] for r in res.records] == ["3", "2"]
    assert res.superseded == 1
