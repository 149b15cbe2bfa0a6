"""The grammar rules (pure): each finds its error and names the correct form, and correct Czech is left alone
(precision over recall: the table of correct sentences is the larger one)."""

from __future__ import annotations

import pytest

from mluv.domain import spelling
from mluv.domain.grammar import find_errors, tokenize
from mluv.domain.review import review_offline

Found = tuple[str, str, str | None, dict[str, str]]


@pytest.fixture(scope="module", autouse=True)
def dictionary() -> None:
    spelling.warm_up()


def found(text: str) -> list[Found]:
    return [(f.rule, f.original, f.suggestion, f.params) for f in find_errors(text, tokenize(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The issue's five sentences, each praised as correct before.
        (
            "Chci jít do kino",
            [("preposition-case", "kino", "kina", {"preposition": "do", "case": "genitive"})],
        ),
        (
            "Já bydlím v Praha",
            [("preposition-case", "Praha", "Praze", {"preposition": "v", "case": "locative"})],
        ),
        ("Mám dva sestry", [("numeral-agreement", "dva", "dvě", {"numeral": "dva", "gender": "feminine"})]),
        (
            "Moje sestra je velký",
            [("adjective-agreement", "velký", "velká", {"noun": "sestra", "gender": "feminine"})],
        ),
        (
            "Jdu k doktor",
            [("preposition-case", "doktor", "doktorovi", {"preposition": "k", "case": "dative"})],
        ),
    ],
)
def test_the_issue_sentences(text: str, expected: list[Found]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "original", "suggestion", "case"),
    [
        ("Jdu do škola.", "škola", "školy", "genitive"),
        ("Jsem z Ukrajina.", "Ukrajina", "Ukrajiny", "genitive"),
        ("Piju čaj bez cukr.", "cukr", "cukru", "genitive"),
        ("Bydlím u babička.", "babička", "babičky", "genitive"),
        ("Jedu do Brno.", "Brno", "Brna", "genitive"),
        ("Bydlím v Kyjev.", "Kyjev", "Kyjevě", "locative"),
        ("Jsme v kino.", "kino", "kině", "locative"),
        ("Pracuju v kancelář.", "kancelář", "kanceláři", "locative"),
        ("Jsem v restaurace.", "restaurace", "restauraci", "locative"),
        ("Jsme v hotel.", "hotel", "hotelu", "locative"),
        ("Jsem v práce.", "práce", "práci", "locative"),
        ("Mluvíme o škola.", "škola", "škole", "locative"),
        ("Čtu knihu o Česko.", "Česko", "Česku", "locative"),  # a topic: o + locative
        ("Po práce jdu domů.", "práce", "práci", "locative"),
        ("Jsem na pošta.", "pošta", "poště", "locative"),
        ("Jdu na pošta.", "pošta", "poštu", "accusative"),  # motion: na + accusative
        ("Čekám na kamarádka.", "kamarádka", "kamarádku", "accusative"),
        ("Starám se o sestra.", "sestra", "sestru", "accusative"),
        ("Jdu k sestra.", "sestra", "sestře", "dative"),
        ("Jdu ke kamarád.", "kamarád", "kamarádovi", "dative"),
        ("Díky kamarádka mám práci.", "kamarádka", "kamarádce", "dative"),
        ("Potřebuju lék proti bolest hlavy.", "bolest", "bolesti", "dative"),
        ("Mám dárek pro sestra.", "sestra", "sestru", "accusative"),
        ("Jdu s kamarád do kina.", "kamarád", "kamarádem", "instrumental"),
        ("Jedu do nemecko.", "nemecko", "Německa", "genitive"),  # read with its diacritics fixed
        # The words agreeing with the noun are declined with it.
        ("Jdu do velký obchod.", "velký obchod", "velkého obchodu", "genitive"),
        ("Bydlím v Česká republika.", "Česká republika", "České republice", "locative"),
        ("Jsem u můj kamarád.", "můj kamarád", "mého kamaráda", "genitive"),
        ("Mluvím s můj bratr.", "můj bratr", "mým bratrem", "instrumental"),
        # A preposition that needs its vowel before the new form is part of the correction.
        ("Bydlím v škola.", "v škola", "ve škole", "locative"),
    ],
)
def test_preposition_case(text: str, original: str, suggestion: str, case: str) -> None:
    review = review_offline(text)
    (correction,) = [c for c in review.corrections if c.kind == "grammar"]
    assert (correction.rule, correction.original, correction.suggestion) == (
        "preposition-case",
        original,
        suggestion,
    )
    assert correction.params["case"] == case
    assert correction.params["preposition"] in text.lower().split()


@pytest.mark.parametrize(
    ("text", "original", "suggestion", "params"),
    [
        ("Mám dvě bratry.", "dvě", "dva", {"numeral": "dvě", "gender": "masculine"}),
        ("Chtěl bych dva piva.", "dva", "dvě", {"numeral": "dva", "gender": "neuter"}),
        ("Za dvě dny jedu domů.", "dvě", "dva", {"numeral": "dvě", "gender": "masculine"}),
        ("Mám dva děti.", "dva", "dvě", {"numeral": "dva", "gender": "neuter"}),
        ("Oba sestry bydlí v Praze.", "Oba", "Obě", {"numeral": "oba", "gender": "feminine"}),
        ("Obě kluci hrají fotbal.", "Obě", "Oba", {"numeral": "obě", "gender": "masculine"}),
        ("Oba ruce mě bolí.", "Oba", "Obě", {"numeral": "oba", "gender": "feminine"}),
        (
            "Mám tři sestra.",
            "sestra",
            "sestry",
            {"numeral": "tři", "gender": "feminine", "case": "nominative", "number": "plural"},
        ),
        (
            "Mám pět sestry.",
            "sestry",
            "sester",
            {"numeral": "pět", "gender": "feminine", "case": "genitive", "number": "plural"},
        ),
        (
            "Je tam šest lidé.",
            "lidé",
            "lidí",
            {"numeral": "šest", "gender": "masculine", "case": "genitive", "number": "plural"},
        ),
        (
            "Mám dva bratr.",  # after "mám" the accusative plural (bratry), not the nominative (bratři)
            "bratr",
            "bratry",
            {"numeral": "dva", "gender": "masculine", "case": "accusative", "number": "plural"},
        ),
        (
            "Máme dvě auto.",
            "auto",
            "auta",
            {"numeral": "dvě", "gender": "neuter", "case": "nominative", "number": "plural"},
        ),
    ],
)
def test_numeral_agreement(text: str, original: str, suggestion: str, params: dict[str, str]) -> None:
    assert found(text) == [("numeral-agreement", original, suggestion, params)]


@pytest.mark.parametrize(
    ("text", "original", "suggestion", "noun", "gender"),
    [
        ("Město je velká.", "velká", "velké", "město", "neuter"),
        ("Naše město je krásný.", "krásný", "krásné", "město", "neuter"),
        ("Byt je malá.", "malá", "malý", "byt", "masculine"),
        ("Praha je krásný.", "krásný", "krásná", "Praha", "feminine"),
        ("Pes je malá.", "malá", "malý", "pes", "masculine"),
        ("Dítě je malý.", "malý", "malé", "dítě", "neuter"),
        ("Náměstí je velký.", "velký", "velké", "náměstí", "neuter"),
        ("Kancelář je malý.", "malý", "malá", "kancelář", "feminine"),
        ("Ta kniha je moc zajímavý.", "zajímavý", "zajímavá", "kniha", "feminine"),
        ("Sestra není rád.", "rád", "ráda", "sestra", "feminine"),
    ],
)
def test_adjective_agreement(text: str, original: str, suggestion: str, noun: str, gender: str) -> None:
    assert found(text) == [("adjective-agreement", original, suggestion, {"noun": noun, "gender": gender})]


@pytest.mark.parametrize(
    ("text", "original", "suggestion", "pronoun"),
    [
        ("Já je student.", "je", "jsem", "já"),
        ("Já je z Ruska.", "je", "jsem", "já"),
        ("Já je doma.", "je", "jsem", "já"),
        ("My je rádi.", "je", "jsme", "my"),
        ("Ty je můj kamarád.", "je", "jsi", "ty"),
        ("My jsou doma.", "jsou", "jsme", "my"),
        ("Ty jsem student.", "jsem", "jsi", "ty"),
        ("Ty jsou student?", "jsou", "jsi", "ty"),  # a singular noun: ty is you, not those
        ("Já jsi unavený.", "jsi", "jsem", "já"),
        ("On jsou v práci.", "jsou", "je", "on"),
        ("Ona jsem doktorka.", "jsem", "je", "ona"),
        ("Vy jsou Češi?", "jsou", "jste", "vy"),
        ("Oni jsme tady.", "jsme", "jsou", "oni"),
        ("Já nejsi unavený.", "nejsi", "nejsem", "já"),
        ("On nejsou doma.", "nejsou", "není", "on"),
    ],
)
def test_byt_form(text: str, original: str, suggestion: str, pronoun: str) -> None:
    assert found(text) == [("byt-form", original, suggestion, {"pronoun": pronoun})]


CORRECT: list[str] = [
    "Jdu na poštu.",
    "Bydlím v Brně.",
    "Mám dvě sestry.",
    "Můj bratr je vysoký.",
    "Jsem z Kyjeva.",
    "Bez cukru, prosím.",
    "Dva bratři a dvě sestry.",
    "Chci jít do kina.",
    "Já bydlím v Praze.",
    "Moje sestra je velká.",
    "Jdu k doktorovi.",
    "V pátek jdu do kina.",  # v + accusative of time
    "Ve středu jsem v práci.",
    "V tu chvíli zazvonil telefon.",
    "Věřím v Boha.",  # v + accusative after věřit
    "Po celý den pršelo.",
    "Přijdu o hodinu později.",
    "Starám se o dítě.",  # o + accusative after starat se
    "Mám zájem o tuto práci.",
    "Jde o život.",
    "Čekám na autobus.",  # na + accusative
    "Dívám se na film.",
    "Byl jsem na obědě.",
    "Na shledanou!",
    "Díky moc!",
    "Díky, Petře.",
    "Díky tobě jsem to zvládl.",
    "To je hezké místo.",  # the noun místo, not the preposition
    "Bydlím hned vedle.",
    "Ve volném čase rád čtu.",
    "Jedu autobusem, v autobuse čtu.",
    "Jdu si pro chleba.",
    "Bydlím v Pardubicích.",
    "Z toho důvodu nepřijdu.",
    "Od té doby ho nevidím.",
    "Jdu s ní do kina.",
    "Kočka spí pod stolem.",
    "Mám dva syny a jednu dceru.",
    "Máme čtyři děti.",
    "Je mi pět let.",
    "Mám pět sester.",
    "Bydlím tady dva roky.",
    "Za dva dny jedu domů.",
    "Stojí to dvě stě korun.",
    "Pět plus pět je deset.",
    "Oba rodiče pracují.",
    "Obě děti spí.",
    "Dva z nich jsou z Ukrajiny.",
    "Praha je krásná.",
    "Dnes je krásný den.",
    "Ve městě je velký park.",
    "Moje sestra je velký fanoušek hokeje.",  # the adjective belongs to the next noun
    "Barva moře je modrá.",  # moře is a genitive here
    "Voda z moře je studená.",
    "Sestra je starší než já.",  # a soft adjective: the same in every gender
    "Můj kamarád Saša je unavený.",
    "Moje máma je ráda, že jsem tady.",
    "Já jsem student.",
    "Ty jsi moc hodný.",
    "Ty jsou hezké.",  # those are
    "Ty jsem viděl včera.",  # those I saw
    "Já je znám.",  # je: them
    "Já je mám rád.",
    "My je vidíme každý den.",
    "Ty a já jsme kamarádi.",
    "Petr a já jsme bratři.",
    "Ona je doktorka.",
    "Oni nejsou tady.",
    "Jmenuju se Olga a bydlím v Praze.",
    "Moje kamarádka Olesja bydlí v Kyjevě.",
]


@pytest.mark.parametrize("text", CORRECT)
def test_correct_sentences_get_no_grammar_correction(text: str) -> None:
    assert found(text) == []
    assert [c for c in review_offline(text).corrections if c.kind == "grammar"] == []


def test_suggestions_are_in_the_dictionary() -> None:
    text = (
        "Jdu do kino, k doktor a do velký obchod. Mám dva sestry a pět bratr. Město je velká. My jsou doma."
    )
    findings = find_errors(text, tokenize(text))
    assert len(findings) == 7
    for finding in findings:
        assert finding.suggestion is not None
        assert all(spelling.spell(word) for word in finding.suggestion.split())
        assert text[finding.start : finding.end] == finding.original
