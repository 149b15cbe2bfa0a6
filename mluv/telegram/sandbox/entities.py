"""Message entities like Telegram computes them: parse_mode=HTML, and bot commands in learners' text.

Offsets and lengths are in UTF-16 code units, as the Bot API defines them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

# Telegram's HTML style: only these tags (https://core.telegram.org/bots/api#html-style).
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_SUPPORTED_TAGS = {*_SIMPLE_TAGS, "a", "span", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(r"\s*([a-zA-Z-]+)\s*(?:=\s*(\"[^\"]*\"|'[^']*'|[^\s>]*))?")
# A bot command at the start of a message: "/start", "/stats@mluv_bot" (Telegram: 1-32 characters).
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


class EntityParseError(ValueError):
    """Becomes 400 "Bad Request: can't parse entities: <message>"."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    offset: int
    attributes: dict[str, str]
    byte_offset: int


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _entity_for(opened: _Open, length: int) -> dict[str, Any] | None:
    tag, attributes = opened.tag, opened.attributes
    entity: dict[str, Any] = {"offset": opened.offset, "length": length}
    if tag in _SIMPLE_TAGS:
        entity["type"] = _SIMPLE_TAGS[tag]
        if tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        if tag == "code" and attributes.get("class", "").startswith("language-"):
            entity["language_class"] = attributes["class"].removeprefix("language-")
    elif tag == "a":
        href = attributes.get("href", "")
        if not href:
            return None
        entity["type"] = "text_link"
        entity["url"] = href
    elif tag == "span":
        if attributes.get("class") != "tg-spoiler":
            return None
        entity["type"] = "spoiler"
    elif tag == "tg-emoji":
        entity["type"] = "custom_emoji"
        entity["custom_emoji_id"] = attributes.get("emoji-id", "")
    return entity


def parse_html(source: str) -> ParsedText:
    """Strip Telegram's HTML markup into plain text and entities, or raise EntityParseError."""
    out: list[str] = []
    position = 0  # UTF-16 length of the text so far
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    index, end = 0, len(source)
    while index < end:
        char = source[index]
        if char == "&":
            match = _ENTITY.match(source, index)
            if match and (match.group(1).startswith("#") or match.group(1) in _NAMED_ENTITIES):
                name = match.group(1)
                decoded = _NAMED_ENTITIES.get(name) or html.unescape(match.group(0))
                out.append(decoded)
                position += utf16_len(decoded)
                index = match.end()
                continue
            # Telegram keeps an ampersand that starts no supported entity as it is.
            out.append(char)
            position += 1
            index += 1
            continue
        if char != "<":
            out.append(char)
            position += utf16_len(char)
            index += 1
            continue
        tag_start = index
        closing = source.startswith("</", index)
        index += 2 if closing else 1
        name_match = _TAG_NAME.match(source, index)
        assert name_match is not None  # the pattern matches the empty string
        name = name_match.group(0).lower()
        index = name_match.end()
        if closing:
            close = source.find(">", index)
            if close == -1:
                raise EntityParseError(
                    f"Can't find end tag corresponding to start tag at byte offset "
                    f"{_byte_offset(source, tag_start)}"
                )
            index = close + 1
            if not stack:
                raise EntityParseError(
                    f'Unexpected end tag at byte offset {_byte_offset(source, tag_start)}, found "</{name}>"'
                )
            opened = stack.pop()
            if name != opened.tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, tag_start)}, "
                    f'expected "</{opened.tag}>", found "</{name}>"'
                )
            length = position - opened.offset
            entity = _entity_for(opened, length)
            if entity is not None and length > 0:
                entities.append(entity)
            continue
        if name not in _SUPPORTED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, tag_start)}'
            )
        attributes: dict[str, str] = {}
        while True:
            if index >= end:
                raise EntityParseError(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(source, tag_start)}'
                )
            if source[index] == ">":
                index += 1
                break
            attribute = _ATTRIBUTE.match(source, index)
            if attribute is None or attribute.end() == index:
                raise EntityParseError(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(source, tag_start)}'
                )
            value = attribute.group(2) or ""
            if value[:1] in {'"', "'"}:
                value = value[1:-1]
            attributes[attribute.group(1).lower()] = html.unescape(value)
            index = attribute.end()
        stack.append(_Open(name, position, attributes, _byte_offset(source, tag_start)))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    _nest_code_in_pre(entities)
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return ParsedText("".join(out), entities)


def _nest_code_in_pre(entities: list[dict[str, Any]]) -> None:
    """<pre><code class="language-x"> is one pre entity with a language, like Telegram."""
    for pre in [entity for entity in entities if entity["type"] == "pre"]:
        for code in entities:
            same_span = code["offset"] == pre["offset"] and code["length"] == pre["length"]
            if code["type"] == "code" and same_span:
                language = code.get("language_class")
                entities.remove(code)
                if language:
                    pre["language"] = language
                break
    for entity in entities:
        entity.pop("language_class", None)


def strip_text(parsed: ParsedText) -> ParsedText:
    """Telegram trims leading and trailing whitespace from message text; entities move with it."""
    text = parsed.text
    stripped = text.strip()
    if stripped == text:
        return parsed
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    entities = []
    for entity in parsed.entities:
        start = max(0, entity["offset"] - shift)
        stop = min(total, entity["offset"] - shift + entity["length"])
        if stop > start:
            entities.append({**entity, "offset": start, "length": stop - start})
    return ParsedText(stripped, entities)


def format_text(text: str, parse_mode: str | None) -> ParsedText:
    """The text and entities of a message the bot sends (HTML parsed; other modes kept as sent)."""
    if parse_mode is not None and parse_mode.lower() == "html":
        return strip_text(parse_html(text))
    return strip_text(ParsedText(text))


def bot_command_entities(text: str) -> list[dict[str, Any]]:
    """A learner's "/command" gets a bot_command entity at offset 0, as Telegram adds it."""
    match = _BOT_COMMAND.match(text)
    if match is None:
        return []
    return [{"offset": 0, "length": utf16_len(match.group(0)), "type": "bot_command"}]
