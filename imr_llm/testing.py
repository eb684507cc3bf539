"""Test doubles for wiring tests of `extract` and `api`: a scripted model client, no HTTP.

`FakeClient` implements the `ModelClient` protocol that `extract` uses (`structured(system,
user, response_model, context) -> CallResult`). It answers from a script (a list of answers, or
a function of the call), validates each answer with the real `response_model` and validation
`context` (so `extract.ValidatedExtraction` checks it against the letter's anchors, as the real
client does), reasks a bounded number of times like instructor, records every call with the
messages it was sent, and counts usage.

    anchors = read(letter)[1]
    fake = FakeClient(faithful(anchors))
    summary = summarize_llm(letter, settings=settings, client=fake)
    assert fake.usage.calls == 1
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from imr_llm.letter.anchors import Anchors
from imr_llm.letter.normalize import squash
from imr_llm.llm.pricing import cost_usd
from imr_llm.llm.protocol import CallResult
from imr_llm.rules import rationale_summary
from imr_llm.schema import (
    Decision,
    ModelCase,
    ModelExtraction,
    ModelItem,
    ModelNarrative,
    ModelPatient,
    ModelReviewer,
    NarrativeItem,
    Usage,
)

#: What a script may answer with: a model value or JSON-able dict (validated like a real reply),
#: raw text (e.g. garbage or a refusal), a finished CallResult (returned as is), or an exception
#: (raised, e.g. ModelCallError).
Answer = BaseModel | dict[str, Any] | str | CallResult | BaseException

REASK_PREFIX = "Correct your JSON ONLY RESPONSE, based on the following errors:\n"


@dataclass
class FakeCall:
    """One `structured()` call as the fake received it, with every message of its attempts."""

    system: str
    user: str
    response_model: type[BaseModel]
    context: dict[str, Any]
    messages: list[dict[str, str]] = field(default_factory=list)
    attempts: int = 0

    @property
    def expected(self) -> list[dict[str, Any]]:
        """The anchored items `extract` asked about (its validation context), in order."""
        value = self.context.get("expected") or []
        return list(value)

    @property
    def indices(self) -> list[int]:
        """Letter-wide indices of the items in this call's group."""
        return [int(e["index"]) for e in self.expected]

    @property
    def reasks(self) -> list[str]:
        """The reask messages sent after failed validations."""
        return [m["content"] for m in self.messages[2:] if m["role"] == "user"]


Responder = Callable[[FakeCall], Answer]


class FakeClient:
    """A scripted `ModelClient`: no network, real validation, recorded calls, counted usage."""

    def __init__(
        self,
        answers: Iterable[Answer] | Responder = (),
        *,
        reask_attempts: int = 0,
        prompt_tokens: int = 100,
        completion_tokens: int = 20,
        model: str | None = None,
    ) -> None:
        self._responder: Responder | None = answers if callable(answers) else None
        self._queue: deque[Answer] = deque() if callable(answers) else deque(answers)
        self.reask_attempts = reask_attempts
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.model = model
        self.calls: list[FakeCall] = []
        self.usage = Usage()

    @property
    def requests(self) -> int:
        """Model requests made so far (attempts, reasks included)."""
        return sum(c.attempts for c in self.calls)

    @property
    def pending(self) -> int:
        """Scripted answers not yet used (0 for a responder function)."""
        return len(self._queue)

    def structured(
        self,
        system: str,
        user: str,
        response_model: type[BaseModel],
        context: dict[str, Any],
        *,
        reasks: int | None = None,
    ) -> CallResult:
        allowed = self.reask_attempts if reasks is None else reasks
        call = FakeCall(
            system=system,
            user=user,
            response_model=response_model,
            context=dict(context),
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        )
        self.calls.append(call)
        usage = Usage()
        errors: list[str] = []
        raw: str | None = None
        for attempt in range(1, max(allowed, 0) + 2):
            call.attempts = attempt
            answer = self._next(call)
            if isinstance(answer, BaseException):
                raise answer
            if isinstance(answer, CallResult):
                self._count(answer.usage)
                return answer
            raw = _raw_text(answer)
            usage.calls += 1
            usage.prompt_tokens += self.prompt_tokens
            usage.completion_tokens += self.completion_tokens
            call.messages.append({"role": "assistant", "content": raw})
            try:
                parsed = response_model.model_validate_json(raw, context=context)
            except ValidationError as exc:
                errors = [" ".join(str(exc).split())]
                if attempt <= allowed:
                    call.messages.append({"role": "user", "content": REASK_PREFIX + str(exc)})
                continue
            return self._finish(
                CallResult(parsed=parsed, raw_text=raw, attempts=attempt, usage=usage, errors=[])
            )
        return self._finish(
            CallResult(
                parsed=None, raw_text=raw, attempts=call.attempts, usage=usage, errors=errors
            )
        )

    def _next(self, call: FakeCall) -> Answer:
        if self._responder is not None:
            return self._responder(call)
        if not self._queue:
            raise LookupError(
                f"FakeClient: no scripted answer left for call {len(self.calls)} "
                f"attempt {call.attempts}: script one more answer"
            )
        return self._queue.popleft()

    def _finish(self, result: CallResult) -> CallResult:
        u = result.usage
        u.total_tokens = u.prompt_tokens + u.completion_tokens
        u.cost_usd = cost_usd(self.model, u.prompt_tokens, u.completion_tokens)
        self._count(u)
        return result

    def _count(self, u: Usage) -> None:
        self.usage.calls += u.calls
        self.usage.prompt_tokens += u.prompt_tokens
        self.usage.completion_tokens += u.completion_tokens
        self.usage.total_tokens += u.total_tokens
        self.usage.cost_usd += u.cost_usd


def _raw_text(answer: BaseModel | dict[str, Any] | str) -> str:
    if isinstance(answer, BaseModel):
        return answer.model_dump_json()
    if isinstance(answer, dict):
        return json.dumps(answer)
    return answer


# --- answers built from a letter's anchors ----------------------------------------------------


def correct_item(anchors: Anchors, index: int) -> ModelItem:
    """What a perfect model reports for item `index`: every anchored value as the letter says."""
    a = anchors.items[index]
    decision: Decision = a.decision.value
    quantity, unit = a.quantity.value if a.quantity is not None else (None, None)
    return ModelItem(
        service=str(a.service.value),
        decision_line=squash(a.line.text),
        quantity=quantity,
        quantity_unit=unit,
        decision=decision,
        medically_necessary=decision is Decision.OVERTURNED,
        original_request=a.original_request.value if a.original_request else None,
        authorized_portion=a.authorized_portion.value if a.authorized_portion else None,
        rationale_summary=rationale_summary(a),
    )


def correct_extraction(anchors: Anchors, indices: Sequence[int] | None = None) -> ModelExtraction:
    """A perfect answer for the items at `indices` (all items when None), header from anchors."""
    f = anchors.fields

    def val(path: str) -> Any:
        a = f.get(path)
        return a.value if a is not None else None

    wanted = range(len(anchors.items)) if indices is None else indices
    return ModelExtraction(
        case=ModelCase(**{f: val(f"case.{f}") for f in ModelCase.model_fields}),
        reviewer=ModelReviewer(
            **{f: val(f"reviewer.{f}") or [] for f in ModelReviewer.model_fields}
        ),
        patient=ModelPatient(**{f: val(f"patient.{f}") for f in ModelPatient.model_fields}),
        items=[correct_item(anchors, i) for i in wanted],
    )


def faithful(anchors: Anchors) -> Responder:
    """A responder that answers every call correctly for the items that call asks about."""

    def answer(call: FakeCall) -> Answer:
        return correct_extraction(anchors, call.indices)

    return answer


def change_item(extraction: ModelExtraction, index: int, **changes: Any) -> ModelExtraction:
    """A copy of `extraction` with its item `index` changed (e.g. a wrong decision)."""
    items = list(extraction.items)
    items[index] = items[index].model_copy(update=changes)
    return extraction.model_copy(update={"items": items})


def change(extraction: ModelExtraction, part: str, **changes: Any) -> ModelExtraction:
    """A copy of `extraction` with fields of its `part` ('case', 'patient', ...) changed."""
    current: BaseModel = getattr(extraction, part)
    return extraction.model_copy(update={part: current.model_copy(update=changes)})


def inverted(decision: Decision) -> Decision:
    """The other decision: the classic Upheld/Overturned mistake."""
    return Decision.OVERTURNED if decision is Decision.UPHELD else Decision.UPHELD


def faithful_narrative(anchors: Anchors, group: Sequence[int] | None = None) -> ModelNarrative:
    """A narrative answer a careful reader would give: the rules' phrases and reasons."""
    from imr_llm.letter.clinical import find_clinical

    found = find_clinical(anchors.norm, anchors.sections.clinical)
    indices = list(range(len(anchors.items))) if group is None else list(group)
    items = []
    for i in indices:
        a = anchors.items[i]
        items.append(NarrativeItem(
            decision=a.decision.value,
            quantity=a.quantity.value[0] if a.quantity else None,
            why=rationale_summary(a) or "The records did not support the request.",
        ))
    return ModelNarrative(
        diagnoses=[p.value for p in found.diagnoses],
        body_parts=[p.value for p in found.body_parts],
        prior_treatments=[p.value for p in found.prior_treatments],
        clinical_summary="",
        items=items,
    )
