"""An operator's post checked as Telegram will take it (mluv.domain.post_format): Telegram HTML validated
with the problem named, the length counted after parsing (pure)."""

from __future__ import annotations

import pytest

from mluv.domain.post_format import PostError, PostFormat, check_post, looks_like_html, parse_html
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT


@pytest.mark.parametrize(
    ("markup", "visible"),
    [
        ("<b>Ahoj</b>", "Ahoj"),
        (
            "<strong>a</strong><i>b</i><em>c</em><u>d</u><ins>e</ins><s>f</s><strike>g</strike><del>h</del>",
            "abcdefgh",
        ),
        ('<span class="tg-spoiler">tajné</span> <tg-spoiler>tajné</tg-spoiler>', "tajné tajné"),
        ('<a href="https://mluv.example/lekce?a=1&amp;b=2">lekce</a>', "lekce"),
        ("<code>x = 1</code>", "x = 1"),
        ('<pre><code class="language-python">print(1)</code></pre>', "print(1)"),
        ("<blockquote>citát</blockquote><blockquote expandable>dlouhý</blockquote>", "citátdlouhý"),
        ("<B>Velká</B>", "Velká"),
        ("<b><i>oba</i></b>", "oba"),
        ("&lt;b&gt; &amp; &quot;uvozovky&quot;", '<b> & "uvozovky"'),
        ("čísla: &#8212; &#x1F600;", "čísla: — 😀"),
        ("Tom & Jerry > nic", "Tom & Jerry > nic"),
        ("bez značek", "bez značek"),
    ],
    ids=lambda value: value if len(value) < 30 else value[:27] + "…",
)
def test_valid_telegram_html_and_what_it_shows(markup: str, visible: str) -> None:
    assert parse_html(markup) == visible
    assert check_post(markup, PostFormat.HTML) == visible


@pytest.mark.parametrize(
    ("markup", "key", "params"),
    [
        ("<h1>Nadpis</h1>", "post-html-unknown-tag", {"tag": "h1"}),
        ("řádek<br>řádek", "post-html-unknown-tag", {"tag": "br"}),
        ("<tg-emoji emoji-id='1'>👍</tg-emoji>", "post-html-unknown-tag", {"tag": "tg-emoji"}),
        ("<!-- poznámka -->text", "post-html-unknown-tag", {"tag": "!--"}),
        ("<b>Ahoj", "post-html-unclosed-tag", {"tag": "b"}),
        ("<b>Ahoj <i>světe</i>", "post-html-unclosed-tag", {"tag": "b"}),
        ("<b/>", "post-html-unclosed-tag", {"tag": "b"}),
        ("Ahoj</b>", "post-html-unexpected-close", {"tag": "b"}),
        ("<b><i>x</b></i>", "post-html-mismatched", {"expected": "i", "found": "b"}),
        ("2 < 3", "post-html-bare-lt", {}),
        ("konec <b", "post-html-bare-lt", {}),
        ("a&nbsp;b", "post-html-entity", {"entity": "&nbsp;"}),
        ("<a>odkaz</a>", "post-html-missing-href", {}),
        ('<a href=" ">odkaz</a>', "post-html-missing-href", {}),
        ("<span>x</span>", "post-html-span", {}),
        ('<span class="red">x</span>', "post-html-span", {}),
        ('<b style="color:red">x</b>', "post-html-attribute", {"tag": "b", "attribute": "style"}),
        (
            '<a href="https://x" target="_blank">x</a>',
            "post-html-attribute",
            {"tag": "a", "attribute": "target"},
        ),
        ('<code class="language-py">x</code>', "post-html-attribute", {"tag": "code", "attribute": "class"}),
        ("<code><b>x</b></code>", "post-html-inside-code", {"tag": "b"}),
        ("<pre><i>x</i></pre>", "post-html-inside-code", {"tag": "i"}),
    ],
)
def test_invalid_html_names_the_problem(markup: str, key: str, params: dict[str, str]) -> None:
    with pytest.raises(PostError) as raised:
        check_post(markup, PostFormat.HTML)
    assert (raised.value.key, raised.value.params) == (key, params)


@pytest.mark.parametrize(
    ("text", "post_format", "problem"),
    [
        ("", PostFormat.PLAIN, PostError("post-error-empty")),
        ("   \n ", PostFormat.PLAIN, PostError("post-error-empty")),
        ("<b> </b>", PostFormat.HTML, PostError("post-error-empty")),
        ("x" * TELEGRAM_TEXT_LIMIT, PostFormat.PLAIN, None),
        (
            "x" * (TELEGRAM_TEXT_LIMIT + 1),
            PostFormat.PLAIN,
            PostError("post-error-too-long", {"count": 4097, "limit": 4096}),
        ),
        ("🎉" * 2048, PostFormat.PLAIN, None),  # 4096 UTF-16 units
        ("🎉" * 2049, PostFormat.PLAIN, PostError("post-error-too-long", {"count": 4098, "limit": 4096})),
        # The markup does not count: 4096 visible characters in bold fit, however long the source.
        ("<b>" + "x" * TELEGRAM_TEXT_LIMIT + "</b>", PostFormat.HTML, None),
        ("&amp;" * TELEGRAM_TEXT_LIMIT, PostFormat.HTML, None),
        ("<b>" * 2, PostFormat.PLAIN, None),  # plain text is sent as written, tags and all
    ],
    ids=[
        "empty",
        "blank",
        "empty-bold",
        "at-limit",
        "over-limit",
        "emoji-at-limit",
        "emoji-over",
        "bold-at-limit",
        "entities-at-limit",
        "plain-tags",
    ],
)
def test_length_and_emptiness_count_what_telegram_shows(
    text: str, post_format: PostFormat, problem: PostError | None
) -> None:
    if problem is None:
        check_post(text, post_format)
        return
    with pytest.raises(PostError) as raised:
        check_post(text, post_format)
    assert raised.value == problem


@pytest.mark.parametrize(
    ("text", "looks"),
    [
        ("<b>Ahoj</b>", True),
        ('Viz <a href="https://x">web</a>', True),
        ("<I>x</I>", True),
        ("2 < 3 > 1", False),
        ("<3 Mluv", False),
    ],
)
def test_a_plain_text_that_looks_like_html_is_noticed(text: str, looks: bool) -> None:
    assert looks_like_html(text) is looks


def test_formats_map_to_parse_modes() -> None:
    assert (PostFormat.HTML.parse_mode, PostFormat.PLAIN.parse_mode) == ("HTML", None)
    assert (PostFormat.of("HTML"), PostFormat.of("html"), PostFormat.of(None)) == (
        PostFormat.HTML,
        PostFormat.HTML,
        PostFormat.PLAIN,
    )
