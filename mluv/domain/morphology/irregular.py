"""Irregular Czech nouns, written out in full: Hunspell's cs_CZ lists their forms as words of their own.

Each entry: the lemma, its gender and animacy, then its singular and its plural forms, in the order
nominative genitive dative accusative vocative locative instrumental; "|" separates forms that are
both right (the first is suggested), "-" marks a form that does not exist (peníze has no singular).
"""

from __future__ import annotations

from typing import Final

_TABLE: Final = """
den masculine inanimate
    den dne dni|dnu den dni dni|dnu dnem
    dny|dni dnů|dní dnům dny dny dnech dny
týden masculine inanimate
    týden týdne týdnu týden týdne týdnu týdnem
    týdny týdnů týdnům týdny týdny týdnech týdny
dům masculine inanimate
    dům domu domu dům dome domě|domu domem
    domy domů domům domy domy domech domy
stůl masculine inanimate
    stůl stolu stolu stůl stole stole|stolu stolem
    stoly stolů stolům stoly stoly stolech stoly
chléb masculine inanimate
    chléb|chleba chleba|chlebu chlebu chléb|chleba chlebe chlebu|chlebě chlebem
    chleby chlebů chlebům chleby chleby chlebech chleby
rok masculine inanimate
    rok roku roku rok roku roce|roku rokem
    roky let|roků rokům roky roky letech|rocích lety|roky
peníze masculine inanimate
    - - - - - - -
    peníze peněz penězům peníze peníze penězích penězi
pán masculine animate
    pán pána pánovi|pánu pána pane pánovi|pánu pánem
    páni|pánové pánů pánům pány páni|pánové pánech pány
syn masculine animate
    syn syna synovi|synu syna synu synovi|synu synem
    synové synů synům syny synové synech syny
kůň masculine animate
    kůň koně koni|koňovi koně koni koni|koňovi koněm
    koně koní koním koně koně koních koňmi
pes masculine animate
    pes psa psovi|psu psa pse psovi|psu psem
    psi psů psům psy psi psech psy
člověk masculine animate
    člověk člověka člověku|člověkovi člověka člověče člověku|člověkovi člověkem
    lidé|lidi lidí lidem lidi lidé lidech lidmi
přítel masculine animate
    přítel přítele příteli přítele příteli příteli přítelem
    přátelé přátel přátelům přátele přátelé přátelích přáteli
dcera feminine inanimate
    dcera dcery dceři dceru dcero dceři dcerou
    dcery dcer dcerám dcery dcery dcerách dcerami
práce feminine inanimate
    práce práce práci práci práce práci prací
    práce prací pracím práce práce pracích pracemi
ruka feminine inanimate
    ruka ruky ruce ruku ruko ruce rukou
    ruce rukou rukám ruce ruce rukou|rukách rukama
noha feminine inanimate
    noha nohy noze nohu noho noze nohou
    nohy nohou nohám nohy nohy nohou|nohách nohama
dítě neuter inanimate
    dítě dítěte dítěti dítě dítě dítěti dítětem
    děti dětí dětem děti děti dětech dětmi
oko neuter inanimate
    oko oka oku oko oko oku okem
    oči očí očím oči oči očích očima
ucho neuter inanimate
    ucho ucha uchu ucho ucho uchu uchem
    uši uší uším uši uši uších ušima
"""

# (lemma, gender, animate, the 14 cells: singular then plural, each a tuple of forms)
Entry = tuple[str, str, bool, tuple[tuple[str, ...], ...]]


def _parse(table: str) -> tuple[Entry, ...]:
    lines = [line.split() for line in table.strip().splitlines()]
    entries: list[Entry] = []
    for index in range(0, len(lines), 3):
        (lemma, gender, animacy), singular, plural = lines[index : index + 3]
        cells = tuple(tuple(cell.split("|")) if cell != "-" else () for cell in singular + plural)
        assert len(cells) == 14, lemma
        entries.append((lemma, gender, animacy == "animate", cells))
    return tuple(entries)


ENTRIES: Final = _parse(_TABLE)
