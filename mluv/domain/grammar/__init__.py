"""Grammar rules for the errors Russian and Ukrainian speakers make most in Czech (pure, offline).

`find_errors(text, tokens)` runs every rule over the text's words (`tokenize(text, fixes)`: each word with
the form the rules read, as written or with its diacritics or capitalisation fix: "skola" → "škola",
"praha" → "Praha") and returns `Finding`s; the review turns each into a `Correction` of kind "grammar"
with the rule's id and params.

| rule | what it checks | params |
|---|---|---|
| byt-form (`byt.py`) | být agrees with its pronoun: "já je" → "jsem" | pronoun |
| preposition-case (`cases.py`) | the case a preposition governs: "do kino" → "do kina" | preposition, case |
| numeral-agreement (`cases.py`) | dva/dvě, oba/obě by gender; the case after 2-4, 5+ | numeral, gender (+) |
| adjective-agreement (`byt.py`) | "<noun> je <adjective>": "sestra je velký" → "velká" | noun, gender |

(+) and case, number when the noun's form is what is fixed ("pět sestry" → "pět sester").

Precision over recall: a rule speaks only when every reading of the words it checks (`mluv.domain.
morphology`) says the form is wrong; it names the correct form only when the dictionary confirms it,
else its `suggestion` is None. A correction's span (`start`, `end`) covers the words it changes.
"""

from __future__ import annotations

from mluv.domain.grammar.byt import adjective_agreement, byt_form
from mluv.domain.grammar.cases import numeral_agreement, preposition_case
from mluv.domain.grammar.tokens import Finding, Token, tokenize

__all__ = ["Finding", "Token", "find_errors", "tokenize"]


def find_errors(text: str, tokens: list[Token]) -> list[Finding]:
    """Every rule's findings, in text order; a finding overlapping an earlier rule's is dropped."""
    findings: list[Finding] = []
    for rule in (byt_form, preposition_case, numeral_agreement, adjective_agreement):
        for finding in rule(text, tokens):
            if all(finding.end <= kept.start or finding.start >= kept.end for kept in findings):
                findings.append(finding)
    return sorted(findings, key=lambda finding: finding.start)
