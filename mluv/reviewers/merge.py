"""The merge of the offline review with the model's answer: a rule-detected error is never dropped.

`merge(text, offline, answer)` (pure; `offline` is `review_offline(text, level=level)` of the same text):

- **Corrections.** Every offline correction with a `rule` is kept, whether or not the model saw it. When
  a model correction covers the same place (overlapping spans; the same `original` when the model's
  cannot be located), the two are one mistake: the rule's correction stays (its rule, params, span and
  suggestion), takes the model's explanation if it has one, and the model's suggestion only when the rule
  has none and both cover exactly the same span. An offline correction without a rule gives way to a
  model correction of the same place. Every other model correction is added. Sorted by position
  (unlocated ones last).
- **Corrected text.** The model's, when it already fixes every kept rule correction (each rule
  suggestion appears in the suggestion of a model correction of the same place); otherwise the text
  with every located correction's suggestion applied, so the corrected text never contradicts a rule.
- **Score.** The model's (rounded), at most 99 when anything was corrected, and never above the offline
  score when the offline rules found something: the model does not get to forgive a rule's finding.
- **The rest.** `reviewer="openai"`, `checks` = `MERGED_CHECKS` (the model checked grammar as a whole,
  so this review may say "no mistakes"), the offline word count, the offline unknown words still
  corrected, the model's comment.
"""

from __future__ import annotations

from typing import Final

from mluv.domain.review import Check, Correction, Review
from mluv.reviewers.answer import Answer, locate

MERGED_CHECKS: Final[tuple[Check, ...]] = ("diacritics", "spelling", "grammar_rules", "grammar")


def _same_place(rule: Correction, model: Correction) -> bool:
    if model.start is None or model.end is None or rule.start is None or rule.end is None:
        return rule.original.casefold() == model.original.casefold()
    return rule.start < model.end and model.start < rule.end


def _agrees(rule: Correction, models: list[Correction]) -> bool:
    """Does the model's corrected text already carry the rule's fix?"""
    if rule.suggestion is None:
        return True
    wanted = rule.suggestion.casefold()
    return any(wanted in (model.suggestion or "").casefold() for model in models)


def _with_model(rule: Correction, models: list[Correction]) -> Correction:
    explanation = next((model.explanation for model in models if model.explanation), None)
    suggestion = rule.suggestion
    if suggestion is None:
        same_span = [m for m in models if m.suggestion and (m.start, m.end) == (rule.start, rule.end)]
        suggestion = same_span[0].suggestion if same_span else None
    if explanation is None and suggestion == rule.suggestion:
        return rule
    return rule.model_copy(update={"explanation": explanation or rule.explanation, "suggestion": suggestion})


def _apply(text: str, corrections: list[Correction]) -> str:
    """`text` with the located suggestions applied, left to right, skipping overlaps."""
    pieces: list[str] = []
    last = 0
    for correction in sorted(
        (c for c in corrections if c.start is not None and c.end is not None and c.suggestion is not None),
        key=lambda c: (c.start or 0, c.end or 0),
    ):
        start, end = correction.start or 0, correction.end or 0
        if start < last:
            continue
        pieces += (text[last:start], correction.suggestion or "")
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def merge(text: str, offline: Review, answer: Answer) -> Review:
    """One review of `text` from the offline review and the model's answer (module docstring)."""
    online = locate(text, answer)
    used: set[int] = set()
    kept: list[Correction] = []
    model_text_holds = True
    for correction in offline.corrections:
        matches = [i for i, model in enumerate(online) if _same_place(correction, model)]
        if correction.rule is None:
            if not matches:
                kept.append(correction)
                model_text_holds &= correction.suggestion is None
            continue
        models = [online[i] for i in matches]
        used.update(matches)
        kept.append(_with_model(correction, models))
        model_text_holds &= _agrees(correction, models)
    kept += [model for i, model in enumerate(online) if i not in used]
    order = {id(c): i for i, c in enumerate(kept)}
    corrections = sorted(kept, key=lambda c: (c.start is None, c.start or 0, order[id(c)]))

    score = round(answer.correctness)
    if corrections:
        score = min(score, 99)
    if any(c.rule is not None for c in offline.corrections):
        score = min(score, offline.correctness)
    corrected = answer.corrected_text or text
    if not model_text_holds:
        corrected = _apply(text, corrections)
    still_unknown = {c.original for c in kept if c.kind == "unknown"}
    return Review(
        word_count=offline.word_count,
        correctness=score,
        corrections=corrections,
        unknown_words=[word for word in offline.unknown_words if word in still_unknown],
        corrected_text=corrected,
        reviewer="openai",
        comment=(answer.comment or "").strip() or None,
        checks=list(MERGED_CHECKS),
    )
