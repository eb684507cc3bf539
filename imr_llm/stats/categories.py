"""Service categories: which kind of care a free-text disputed service is. Pure data + one function.

The rules are checked in order and the first match wins; see the comment above `_CATEGORY_RULES`
for the overlaps the order resolves.
"""

from __future__ import annotations

import re

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
