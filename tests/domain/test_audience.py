"""The options an operator writes before a post's text (mluv.domain.audience): the audience and the format,
read in any order, dashes a phone made of "--" included, every mistake named (pure)."""

from __future__ import annotations

import pytest

from mluv.domain.audience import Audience, PostOptions, split_options
from mluv.domain.post_format import PostError, PostFormat

HTML = PostFormat.HTML


@pytest.mark.parametrize(
    ("arguments", "options", "rest"),
    [
        ("Ahoj všichni!", PostOptions(), "Ahoj všichni!"),
        ("  Ahoj\nřádek 2  ", PostOptions(), "Ahoj\nřádek 2"),
        ("--html <b>Ahoj</b>", PostOptions(post_format=HTML), "<b>Ahoj</b>"),
        ("--lang uk Ahoj", PostOptions(Audience(language="uk")), "Ahoj"),
        ("--lang=RU Ahoj", PostOptions(Audience(language="ru")), "Ahoj"),
        ("--active 7 Ahoj", PostOptions(Audience(active_days=7)), "Ahoj"),
        ("--active 30d Ahoj", PostOptions(Audience(active_days=30)), "Ahoj"),
        ("--html --active=1 --lang uk Ahoj", PostOptions(Audience("uk", 1), HTML), "Ahoj"),
        ("—lang uk –html Ahoj", PostOptions(Audience(language="uk"), HTML), "Ahoj"),
        ("--channel -1001234567890 Novinky", PostOptions(Audience(channel_id=-1001234567890)), "Novinky"),
        (
            "--lang uk\n<b>Ahoj</b>\n\nDruhý odstavec",
            PostOptions(Audience(language="uk")),
            "<b>Ahoj</b>\n\nDruhý odstavec",
        ),
        ("Ahoj --html", PostOptions(), "Ahoj --html"),  # options only before the text
        ("+30m --html Ahoj", PostOptions(), "+30m --html Ahoj"),
        ("--html", PostOptions(post_format=HTML), ""),
    ],
)
def test_options_before_the_text(arguments: str, options: PostOptions, rest: str) -> None:
    assert split_options(arguments) == (options, rest)


@pytest.mark.parametrize(
    ("arguments", "key", "params"),
    [
        ("--everyone Ahoj", "post-option-unknown", {"option": "--everyone"}),
        ("--lang", "post-option-missing", {"option": "--lang"}),
        ("--lang en Ahoj", "post-option-lang", {"value": "en"}),
        ("--active 0 Ahoj", "post-option-active", {"value": "0", "limit": 365}),
        ("--active 366 Ahoj", "post-option-active", {"value": "366", "limit": 365}),
        ("--active týden Ahoj", "post-option-active", {"value": "týden", "limit": 365}),
        ("--channel @mluv Ahoj", "post-option-channel", {"value": "@mluv"}),
        ("--channel -100 --lang ru Ahoj", "post-option-channel-alone", {}),
    ],
)
def test_a_mistake_in_the_options_is_named(arguments: str, key: str, params: dict[str, object]) -> None:
    with pytest.raises(PostError) as raised:
        split_options(arguments)
    assert (raised.value.key, raised.value.params) == (key, params)
