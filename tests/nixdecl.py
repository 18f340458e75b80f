"""A nixpkgs option declaration's `type = ...;` text, read into tests/nixoptions.py's type language.

options.json records each option's type twice: `type`, in the small language the
checker runs, and `declared`, the expression as nixpkgs writes it in the file and
version the entry names. declared_type() reads the second into the first, so the
whole recorded type (every inner type, not only the outer one) is held to the
declaration's own text: a `listOf str` written down as `listOf anything` fails.

What it reads: `with lib.types;` / `with types;` prefixes and `lib.types.` /
`types.` qualifiers (dropped), `// { description = ...; }` overrides (dropped: they
rename, they do not change what is accepted), the module argument of `submodule`
(a name, a list of modules or a module in parentheses: the sub-options are
declarations of their own), coercedTo's coercion function (the language names its
two types only), and the file-local types options.json's `equivalents` spells out.
"""

from __future__ import annotations

import re

from nixoptions import parse_type

_WITH = re.compile(r"^\s*with\s+(?:lib\.)?types\s*;\s*")
_QUALIFIER = re.compile(r"(?<![\w.])(?:lib\.)?types\.")
_CLOSE = {"(": ")", "[": "]", "{": "}"}


def _term_end(text: str, pos: int) -> int:
    """The end of the Nix term starting at `pos` (after blanks): a name, a string or a bracketed group."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        raise ValueError(f"{text!r}: a term is missing at the end")
    if text[pos] == '"':
        end = pos + 1
        while text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        return end + 1
    if text[pos] in _CLOSE:
        depth, end = 0, pos
        while True:
            c = text[end]
            if c == '"':
                end = _term_end(text, end) - 1
            elif c in _CLOSE:
                depth += 1
            elif c in _CLOSE.values():
                depth -= 1
                if depth == 0:
                    return end + 1
            end += 1
    m = re.compile(r"[\w.'-]+").match(text, pos)
    if not m:
        raise ValueError(f"{text!r}: cannot read a term at {text[pos:]!r}")
    return m.end()


def _drop_arguments(text: str, head: str, keep: list[bool]) -> str:
    """Every `head a b c` with the arguments whose `keep` entry is False cut out."""
    out, pos = [], 0
    for m in re.finditer(rf"(?<![\w.]){re.escape(head)}(?![\w.])", text):
        if m.start() < pos:
            continue
        out.append(text[pos:m.end()])
        pos = m.end()
        for wanted in keep:
            end = _term_end(text, pos)
            if wanted:
                out.append(text[pos:end])
            pos = end
    out.append(text[pos:])
    return "".join(out)


def _drop_overrides(text: str) -> str:
    while (at := text.find("//")) >= 0:
        text = text[:at].rstrip() + text[_term_end(text, at + 2):]
    return text


def declared_type(text: str, equivalents: dict[str, str], aliases: dict[str, str] | None = None) -> tuple:
    """The declaration's type expression as a type of the small language."""
    s = _QUALIFIER.sub("", _WITH.sub("", text))
    s = _drop_overrides(s)
    for nix, same in equivalents.items():
        s = s.replace(nix, same)
    s = _drop_arguments(s, "submodule", [False])
    s = _drop_arguments(s, "coercedTo", [True, False, True])
    return parse_type(s, aliases)
