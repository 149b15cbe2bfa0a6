"""An operator's post (a broadcast or a scheduled post) as Telegram will take it: plain text or Telegram HTML,
checked before it can be sent (pure; the bot's /broadcast and /schedule and the web compose page use it).

Telegram HTML (https://core.telegram.org/bots/api#html-style) allows only these tags: b, strong, i, em,
u, ins, s, strike, del, tg-spoiler, span class="tg-spoiler", a href, code (class="language-…" inside
pre), pre, blockquote (optionally expandable); the entities &lt; &gt; &amp; &quot; and numeric ones; every
tag closed in order. A bare "<" must be written &lt;. The length limit counts the text after parsing.

A problem is a PostError whose `key` is a text in mluv/i18n/locales/*/bot.ftl and `args` its arguments,
so each application words it in the operator's language.
"""

from __future__ import annotations

import html
import re
from enum import StrEnum
from html.parser import HTMLParser

from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, utf16_length


class PostFormat(StrEnum):
    PLAIN = "plain"
    HTML = "html"

    @property
    def parse_mode(self) -> str | None:
        """The Bot API's parse_mode for the format (stored with the post and passed to every send)."""
        return "HTML" if self is PostFormat.HTML else None

    @classmethod
    def of(cls, parse_mode: str | None) -> PostFormat:
        return cls.HTML if (parse_mode or "").upper() == "HTML" else cls.PLAIN


class PostError(ValueError):
    """Why a post cannot be sent: `key` names the text (bot.ftl), `params` fill it in."""

    def __init__(self, key: str, params: dict[str, str | int] | None = None) -> None:
        super().__init__(key, params or {})
        self.key, self.params = key, dict(params or {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PostError) and (self.key, self.params) == (other.key, other.params)

    __hash__ = None  # type: ignore[assignment]


SIMPLE_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler"})
_CODE_TAGS = frozenset({"code", "pre"})
SUPPORTED_TAGS = SIMPLE_TAGS | _CODE_TAGS | {"a", "span", "blockquote"}
_TAG_HINT = re.compile(rf"</?(?:{'|'.join(sorted(SUPPORTED_TAGS))})(?:\s[^<>]*)?>", re.IGNORECASE)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class _TelegramHtml(HTMLParser):
    """Walks the markup once, raising PostError at the first problem and keeping the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SUPPORTED_TAGS:
            raise PostError("post-html-unknown-tag", {"tag": tag})
        if self.open and self.open[-1] in _CODE_TAGS and not (tag == "code" and self.open[-1] == "pre"):
            # Telegram takes no formatting inside code, except <pre><code class="language-…">.
            raise PostError("post-html-inside-code", {"tag": tag})
        _check_attributes(tag, dict(attrs), inside=self.open[-1] if self.open else None)
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SUPPORTED_TAGS:
            raise PostError("post-html-unknown-tag", {"tag": tag})
        raise PostError("post-html-unclosed-tag", {"tag": tag})

    def handle_endtag(self, tag: str) -> None:
        if not self.open:
            raise PostError("post-html-unexpected-close", {"tag": tag})
        if self.open[-1] != tag:
            raise PostError("post-html-mismatched", {"expected": self.open[-1], "found": tag})
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data:
            raise PostError("post-html-bare-lt")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _NAMED_ENTITIES:
            raise PostError("post-html-entity", {"entity": f"&{name};"})
        self.visible.append(_NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        self.visible.append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        raise PostError("post-html-unknown-tag", {"tag": "!--"})

    def handle_decl(self, decl: str) -> None:
        raise PostError("post-html-unknown-tag", {"tag": "!" + decl.split()[0] if decl else "!"})

    def handle_pi(self, data: str) -> None:
        raise PostError("post-html-unknown-tag", {"tag": "?"})

    def unknown_decl(self, data: str) -> None:
        raise PostError("post-html-unknown-tag", {"tag": "!["})


def _check_attributes(tag: str, attributes: dict[str, str | None], *, inside: str | None) -> None:
    allowed: set[str] = set()
    if tag == "a":
        if not (attributes.get("href") or "").strip():
            raise PostError("post-html-missing-href")
        allowed = {"href"}
    elif tag == "span":
        if attributes.get("class") != "tg-spoiler":
            raise PostError("post-html-span")
        allowed = {"class"}
    elif tag == "blockquote":
        allowed = {"expandable"}
    elif tag == "code" and inside == "pre" and (attributes.get("class") or "").startswith("language-"):
        allowed = {"class"}
    for name in attributes:
        if name not in allowed:
            raise PostError("post-html-attribute", {"tag": tag, "attribute": name})


def parse_html(text: str) -> str:
    """The text Telegram would show for `text` sent with parse_mode=HTML, or PostError for markup Telegram
    would refuse (or silently show as typed)."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    # close() hands over an unfinished construct ("<b" at the end) as data, which handle_data refuses.
    if parser.open:
        raise PostError("post-html-unclosed-tag", {"tag": parser.open[-1]})
    return "".join(parser.visible)


def visible_text(text: str, post_format: PostFormat) -> str:
    """The text the recipients see: HTML parsed (PostError if invalid), plain as it is."""
    return parse_html(text) if post_format is PostFormat.HTML else text


def check_post(text: str, post_format: PostFormat) -> str:
    """The visible text of a post that Telegram will take as one message, or PostError: invalid markup,
    nothing to show, or over TELEGRAM_TEXT_LIMIT UTF-16 units once parsed."""
    visible = visible_text(text, post_format)
    if not visible.strip():
        raise PostError("post-error-empty")
    length = utf16_length(visible.strip())
    if length > TELEGRAM_TEXT_LIMIT:
        raise PostError("post-error-too-long", {"count": length, "limit": TELEGRAM_TEXT_LIMIT})
    return visible


def looks_like_html(text: str) -> bool:
    """Whether a plain post contains what reads as a supported tag (it would arrive literally, `<b>`)."""
    return _TAG_HINT.search(text) is not None
