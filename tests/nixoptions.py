"""NixOS option declarations as data, and a checker that holds module files to them.

tests/data/nixpkgs-<release>/options.json records, for every option the
templates can set, its name, its type (in the small type language below) and
where nixpkgs declares it, plus the renamed and removed options of that
release. This module:

- parses the type language (`nullOr (listOf str)`, `enum [ "a" "b" ]`,
  `coercedTo (listOf str) (attrsOf bool)`, ...) and checks JSON values
  against it;
- evaluates module files with the real Nix against stub `config`, `lib`,
  `pkgs` and `modulesPath` (`lib.mkIf`/`mkDefault`/`mkMerge`/... build the
  same `_type` markers as nixpkgs' lib/modules.nix, so the walker sees through
  them) and turns the result into JSON: paths, packages and functions become
  tagged values;
- walks each file's attribute set down to declared options (an attrsOf
  submodule level consumes a name, a listOf submodule level an element) and
  reports every option that is not declared, renamed or removed, and every
  value of the wrong type;
- reads the option paths a template assigns straight from its source, every
  `{% if %}` branch at once, so a test can prove the rendered matrix reached
  them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from nixeval import PKG_MARK, nix_path, pkgs_stub

from installer.nixos.nixlit import nix_string

DATA = Path(__file__).resolve().parent / "data"
NAME = "<name>"  # an attrsOf-submodule level, as the NixOS manual writes it
ELEM = "*"  # a listOf-submodule level

# ---- the type language --------------------------------------------------------

ATOMS = {
    "bool", "int", "float", "str", "nonEmptyStr", "singleLineStr", "lines", "commas", "path", "package",
    "attrs", "anything", "raw", "unspecified", "submodule",
}
UNARY = {"listOf", "nonEmptyListOf", "attrsOf", "nullOr", "uniq", "passwdEntry"}
BINARY = {"either", "coercedTo"}
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+)|(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[()\[\]]))')


class TypeSyntaxError(ValueError):
    pass


def parse_type(text: str, aliases: dict[str, str] | None = None) -> tuple:
    """`nullOr (listOf str)` -> ("nullOr", ("listOf", ("str",))); aliases name whole types."""
    aliases = aliases or {}
    tokens = _tokens(text)
    pos, node = _parse(tokens, 0, aliases, text)
    if pos != len(tokens):
        raise TypeSyntaxError(f"{text!r}: unexpected {tokens[pos][1]!r}")
    return node


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TypeSyntaxError(f"{text!r}: cannot read at {text[pos:]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _parse(tokens, pos, aliases, text):
    """One type: an atom, a constructor with its arguments, or a parenthesised type."""
    if pos >= len(tokens):
        raise TypeSyntaxError(f"{text!r}: a type is missing at the end")
    kind, value = tokens[pos]
    if value == "(":
        pos, node = _parse(tokens, pos + 1, aliases, text)
        if pos >= len(tokens) or tokens[pos][1] != ")":
            raise TypeSyntaxError(f"{text!r}: ')' missing")
        return pos + 1, node
    if kind != "name":
        raise TypeSyntaxError(f"{text!r}: a type name expected, not {value!r}")
    if value in aliases:
        return pos + 1, parse_type(aliases[value], aliases)
    if value in ATOMS:
        return pos + 1, (value,)
    if value in UNARY:
        pos, arg = _parse(tokens, pos + 1, aliases, text)
        return pos, (value, arg)
    if value in BINARY:
        pos, a = _parse(tokens, pos + 1, aliases, text)
        pos, b = _parse(tokens, pos, aliases, text)
        return pos, (value, a, b)
    if value == "strMatching":
        if pos + 1 >= len(tokens) or tokens[pos + 1][0] != "str":
            raise TypeSyntaxError(f"{text!r}: strMatching takes a string")
        return pos + 2, ("strMatching", json.loads(tokens[pos + 1][1]))
    if value in ("enum", "oneOf"):
        if pos + 1 >= len(tokens) or tokens[pos + 1][1] != "[":
            raise TypeSyntaxError(f"{text!r}: {value} takes a [ list ]")
        pos += 2
        items = []
        while pos < len(tokens) and tokens[pos][1] != "]":
            if value == "enum":
                k, v = tokens[pos]
                if k not in ("str", "num") and v not in ("true", "false", "null"):
                    raise TypeSyntaxError(f"{text!r}: enum values are literals, not {v!r}")
                items.append(json.loads(v))
                pos += 1
            else:
                pos, t = _parse(tokens, pos, aliases, text)
                items.append(t)
        if pos >= len(tokens):
            raise TypeSyntaxError(f"{text!r}: ']' missing")
        return pos + 1, (value, tuple(items))
    raise TypeSyntaxError(f"{text!r}: unknown type {value!r}")


def show_type(t: tuple) -> str:
    head = t[0]
    if len(t) == 1:
        return head
    if head == "strMatching":
        return f"strMatching {json.dumps(t[1])}"
    if head == "enum":
        return "enum [ " + " ".join(json.dumps(v) for v in t[1]) + " ]"
    if head == "oneOf":
        return "oneOf [ " + " ".join(_arg(x) for x in t[1]) + " ]"
    return head + " " + " ".join(_arg(x) for x in t[1:])


def _arg(t: tuple) -> str:
    text = show_type(t)
    return f"({text})" if " " in text and not text.startswith(("enum [", "oneOf [")) else text


# ---- values -------------------------------------------------------------------

PATH, PKG, FUNC = "__path", "__pkg", "__lambda"
MARKERS = ("override", "if", "merge", "order")


def is_special(v) -> bool:
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in (PATH, PKG, FUNC)


def is_attrs(v) -> bool:
    return isinstance(v, dict) and not is_special(v) and v.get("_type") not in MARKERS


def unwrap(v) -> Iterator:
    """The definitions a value stands for, through mkIf/mkDefault/mkForce/mkMerge/mkOrder markers."""
    if isinstance(v, dict) and v.get("_type") in MARKERS:
        kind = v["_type"]
        if kind == "merge":
            for part in v.get("contents", []):
                yield from unwrap(part)
        elif kind == "if":
            if not isinstance(v.get("condition"), bool):
                yield {"__bad_condition": v.get("condition")}
            elif v["condition"]:
                yield from unwrap(v.get("content"))
        else:
            yield from unwrap(v.get("content"))
    else:
        yield v


def describe(v) -> str:
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    if v is None:
        return "null"
    if isinstance(v, int):
        return f"the integer {v}"
    if isinstance(v, float):
        return f"the float {v}"
    if isinstance(v, str):
        return f"the string {json.dumps(v)}"
    if isinstance(v, list):
        return f"a list of {len(v)}"
    if is_special(v):
        key, val = next(iter(v.items()))
        return {PATH: f"the path {val}", PKG: f"the package pkgs.{val}", FUNC: "a function"}[key]
    if isinstance(v, dict) and "__bad_condition" in v:
        return f"lib.mkIf with a condition that is {describe(v['__bad_condition'])}"
    return "an attribute set { " + " ".join(sorted(v)[:5]) + (" ..." if len(v) > 5 else "") + " }"


_POSIX = {"[:alnum:]": "a-zA-Z0-9", "[:alpha:]": "a-zA-Z", "[:digit:]": "0-9", "[:xdigit:]": "0-9a-fA-F",
          "[:space:]": r" \t\n\r\f\v", "[:upper:]": "A-Z", "[:lower:]": "a-z", "[:print:]": r" -~"}


def _python_regex(posix: str) -> str:
    for cls, py in _POSIX.items():
        posix = posix.replace(cls, py)
    return posix


def type_problem(t: tuple, v) -> str | None:
    """Why v is not a value of type t (None when it is). Markers are looked through."""
    parts = list(unwrap(v))
    for part in parts:
        problem = _problem(t, part)
        if problem:
            return problem
    return None


def _problem(t: tuple, v) -> str | None:
    head = t[0]
    bad = f"{describe(v)} is not of type {show_type(t)}"
    if isinstance(v, dict) and "__bad_condition" in v:
        return bad
    if head in ("anything", "raw", "unspecified"):
        return None
    if head == "bool":
        return None if isinstance(v, bool) else bad
    if head == "int":
        return None if isinstance(v, int) and not isinstance(v, bool) else bad
    if head == "float":
        return None if isinstance(v, float) else bad
    if head in ("str", "lines", "commas"):
        return None if isinstance(v, str) else bad
    if head == "nonEmptyStr":
        return None if isinstance(v, str) and not re.fullmatch(r"[ \t\n]*", v) else bad
    if head == "singleLineStr":
        return None if isinstance(v, str) and "\n" not in v else bad
    if head == "passwdEntry":
        if not isinstance(v, str) or ":" in v or "\n" in v:
            return f"{describe(v)} is not of type {show_type(t)} (a passwd field: no ':' and no newline)"
        return _problem(t[1], v)
    if head == "strMatching":
        return None if isinstance(v, str) and re.fullmatch(_python_regex(t[1]), v) else bad
    if head == "path":
        ok = (isinstance(v, dict) and (PATH in v or PKG in v)) or (isinstance(v, str) and v.startswith("/"))
        return None if ok else bad
    if head == "package":
        ok = (isinstance(v, dict) and PKG in v) or (isinstance(v, str) and v.startswith("/nix/store/"))
        return None if ok else bad
    if head in ("attrs", "submodule"):
        return None if is_attrs(v) else bad
    if head == "uniq":
        return _problem(t[1], v)
    if head in ("listOf", "nonEmptyListOf"):
        if not isinstance(v, list) or (head == "nonEmptyListOf" and not v):
            return bad
        for i, item in enumerate(v):
            problem = type_problem(t[1], item)
            if problem:
                return f"element {i}: {problem}"
        return None
    if head == "attrsOf":
        if not is_attrs(v):
            return bad
        for key, item in v.items():
            problem = type_problem(t[1], item)
            if problem:
                return f"attribute {key}: {problem}"
        return None
    if head == "nullOr":
        return None if v is None else (None if _problem(t[1], v) is None else bad)
    if head in ("either", "coercedTo"):
        return None if any(_problem(x, v) is None for x in t[1:]) else bad
    if head == "oneOf":
        return None if any(_problem(x, v) is None for x in t[1]) else bad
    if head == "enum":
        ok = any(type(v) is type(x) and v == x for x in t[1])
        return None if ok else bad
    raise AssertionError(f"no check for type {show_type(t)}")


def submodule_of(t: tuple) -> tuple[str, tuple | None] | None:
    """How a type holds sub-options: ("attrsOf"|"listOf"|"submodule"|"coercedTo", other), or None."""
    head = t[0]
    if head == "submodule":
        return ("submodule", None)
    if head in ("attrsOf", "listOf") and t[1][0] == "submodule":
        return (head, None)
    if head == "coercedTo" and t[2][0] == "submodule":
        return ("coercedTo", t[1])
    return None


# ---- the data -------------------------------------------------------------------


@dataclass
class Option:
    name: str
    type: tuple
    role: str
    file: str
    freeform: tuple | None = None
    source: dict = field(default_factory=dict)


@dataclass
class Node:
    children: dict = field(default_factory=dict)
    option: Option | None = None


@dataclass
class Declarations:
    release: str
    options: dict[str, Option]
    renamed: dict[str, dict]
    removed: dict[str, dict]
    imports: dict[str, dict]
    root: Node


@cache
def declarations(release: str) -> Declarations:
    raw = json.loads((DATA / f"nixpkgs-{release}" / "options.json").read_text(encoding="utf-8"))
    aliases = raw.get("types", {})
    options, root = {}, Node()
    for entry in raw["options"]:
        freeform = entry.get("freeform")
        if freeform is not None:
            freeform = parse_type(freeform, aliases)
            assert freeform[0] == "attrsOf", f"{entry['name']}: a freeform type is an attrsOf"
        opt = Option(entry["name"], parse_type(entry["type"], aliases), entry["role"], entry["file"], freeform, entry)
        assert opt.name not in options, f"{opt.name} is recorded twice"
        options[opt.name] = opt
        node = root
        for part in opt.name.split("."):
            node = node.children.setdefault(part, Node())
        node.option = opt
    renamed = {e["from"]: e for e in raw["renamed"]}
    removed = {e["name"]: e for e in raw["removed"]}
    imports = {e["path"]: e for e in raw["imports"]}
    return Declarations(raw["release"], options, renamed, removed, imports, root)


def template_attrs(release: str) -> list[str]:
    lines = (DATA / f"nixpkgs-{release}" / "template-attrs.txt").read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


# ---- evaluating module files ----------------------------------------------------

# Built as nixpkgs' lib/modules.nix builds them, so a template using mkIf or
# mkMerge reaches the walker with the structure NixOS would see.
MARKER_LIB = """rec {
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOptionDefault = mkOverride 1500; mkDefault = mkOverride 1000; mkForce = mkOverride 50;
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  mkBefore = mkOrder 500; mkAfter = mkOrder 1500;
  optional = c: x: if c then [ x ] else [ ]; optionals = c: xs: if c then xs else [ ];
  optionalAttrs = c: a: if c then a else { }; optionalString = c: s: if c then s else "";
}"""

# JSON cannot hold paths (toJSON would copy them into the store), packages or
# functions: each becomes a one-attribute tagged set the walker knows.
TO_JSON = f"""toJ = v: let t = builtins.typeOf v; in
    if t == "path" then {{ {PATH} = toString v; }}
    else if t == "lambda" then {{ {FUNC} = true; }}
    else if t == "set" then (if v ? {nix_string(PKG_MARK)} then {{ {PKG} = v.{nix_string(PKG_MARK)}; }}
      else builtins.mapAttrs (_: toJ) v)
    else if t == "list" then map toJ v
    else v;"""


def prelude(config: str, packages: list[str]) -> str:
    return (
        f"lib = {MARKER_LIB};\n{TO_JSON}\n"
        f"args = {{ inherit lib; config = {config}; pkgs = {pkgs_stub(packages)}; modulesPath = /stub; }};"
    )


def module_json(path: Path) -> str:
    return f"toJ (import {nix_path(path)} args)"


# ---- walking a module -----------------------------------------------------------


@dataclass
class Walk:
    """What one module file sets: the option patterns reached, its imports, and its problems."""

    patterns: set[str] = field(default_factory=set)
    imports: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def walk_module(value, decl: Declarations) -> Walk:
    out = Walk()
    if not is_attrs(value):
        out.problems.append(f"the file evaluates to {describe(value)}, not a module's attribute set")
        return out
    body = dict(value)
    if "imports" in body:
        out.patterns.add("imports")
        imports = body.pop("imports")
        if isinstance(imports, list):
            out.imports = imports
        else:
            out.problems.append(f"imports: {describe(imports)} is not a list")
    for key in ("options", "config", "_file", "key", "disabledModules", "meta"):
        if key in body:
            out.problems.append(f"{key}: the templates write plain configuration modules, not {key!r}")
            body.pop(key)
    _walk_attrs(body, decl.root, [], [], decl, out)
    return out


def _walk(value, node: Node, path: list[str], pat: list[str], decl: Declarations, out: Walk) -> None:
    _check_moved(path, decl, out)
    for v in unwrap(value):
        if isinstance(v, dict) and "__bad_condition" in v:
            out.problems.append(f"{'.'.join(path)}: {describe(v)}, not a boolean")
        elif node.option is not None:
            _at_option(node.option, node, v, path, pat, decl, out)
        elif is_attrs(v):
            _walk_attrs(v, node, path, pat, decl, out)
        else:
            below = ", ".join(sorted(node.children))
            out.problems.append(
                f"{'.'.join(path)} is not an option but the file gives it {describe(v)} "
                f"(the options below it: {below})"
            )


def _walk_attrs(value: dict, node: Node, path, pat, decl, out) -> None:
    for key, sub in value.items():
        child = node.children.get(key)
        if child is None:
            _undeclared(sub, path + [key], pat + [key], decl, out)
        else:
            _walk(sub, child, path + [key], pat + [key], decl, out)


def _at_option(opt: Option, node: Node, v, path, pat, decl, out) -> None:
    out.patterns.add(".".join(pat))
    where = ".".join(path)
    if opt.role == "external":
        if not is_attrs(v):
            out.problems.append(f"{where}: {describe(v)} is not an attribute set")
        return
    holder = submodule_of(opt.type)
    if holder is None:
        problem = type_problem(opt.type, v)
        if problem:
            out.problems.append(f"{where}: {problem} (declared in {opt.file})")
        return
    kind, other = holder
    if kind == "coercedTo" and not is_attrs(v):
        problem = type_problem(other, v)
        if problem:
            out.problems.append(f"{where}: {describe(v)} is not of type {show_type(opt.type)} (declared in {opt.file})")
        return
    if kind == "listOf":
        if not isinstance(v, list):
            out.problems.append(f"{where}: {describe(v)} is not of type {show_type(opt.type)} (declared in {opt.file})")
            return
        elem = node.children.get(ELEM)
        for i, item in enumerate(v):
            if elem is None:
                out.problems.append(f"{where}: no sub-option of {opt.name} is recorded in the data")
            else:
                _walk(item, elem, path + [str(i)], pat + [ELEM], decl, out)
        return
    if not is_attrs(v):
        out.problems.append(f"{where}: {describe(v)} is not of type {show_type(opt.type)} (declared in {opt.file})")
        return
    if kind == "attrsOf":
        elem = node.children.get(NAME)
        for name, item in v.items():
            if elem is None:
                out.problems.append(f"{where}: no sub-option of {opt.name} is recorded in the data")
            else:
                _walk(item, elem, path + [name], pat + [NAME], decl, out)
        return
    for key, item in v.items():  # a submodule: declared sub-options, else its freeform type
        child = node.children.get(key)
        if child is not None:
            _walk(item, child, path + [key], pat + [key], decl, out)
        elif opt.freeform is not None:
            out.patterns.add(".".join(pat + [key]))
            _check_moved(path + [key], decl, out)
            problem = type_problem(opt.freeform[1], item)
            if problem:
                out.problems.append(f"{where}.{key}: {problem} (the freeform type of {opt.name}, {opt.file})")
        else:
            _undeclared(item, path + [key], pat + [key], decl, out)


def _check_moved(path: list[str], decl: Declarations, out: Walk) -> bool:
    name = ".".join(path)
    if name in decl.renamed:
        entry = decl.renamed[name]
        out.problems.append(f"{name} was renamed to {entry['to']} in NixOS {decl.release} ({entry['file']})")
        return True
    if name in decl.removed:
        entry = decl.removed[name]
        out.problems.append(f"{name} was removed in NixOS {decl.release} ({entry['file']}): {entry['reason']}")
        return True
    return False


def _undeclared(value, path: list[str], pat: list[str], decl: Declarations, out: Walk) -> None:
    """An attribute no declaration knows: say where it moved when it did, else that it is unknown.

    Its paths still count as set (under their own names), so a coverage
    check compares like with like and only this problem is reported.
    """
    leaves = list(_leaf_paths(value, path))
    out.patterns.update(".".join(pat + leaf[len(path):]) for leaf in leaves)
    reported = False
    for leaf in leaves:
        for n in range(len(path), len(leaf) + 1):
            if _check_moved(leaf[:n], decl, out):
                reported = True
                break
    if not reported:
        out.problems.append(f"{'.'.join(path)} is not an option declared in NixOS {decl.release}")


def _leaf_paths(value, path: list[str]) -> Iterator[list[str]]:
    found = False
    for v in unwrap(value):
        if is_attrs(v) and v:
            for key, sub in v.items():
                found = True
                yield from _leaf_paths(sub, path + [key])
    if not found:
        yield path


# ---- reading the option paths a template assigns ----------------------------------

JINJA = "\x00J"  # a `{{ ... }}` interpolation standing where a name or value would
_JINJA_EXPR = re.compile(r"\{\{.*?\}\}", re.S)
_JINJA_TAG = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)
_NIX_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>\#[^\n]*|/\*.*?\*/)|(?P<ind>''(?:[^']|'(?!')|'''|''\$|''\\.)*'')"""
    r"""|(?P<str>"(?:[^"\\]|\\.)*")|(?P<jinja>\x00J)|(?P<ident>[A-Za-z_][\w'-]*)"""
    r"""|(?P<path>[\w.+-]*/[\w./+-]+)|(?P<num>\d[\w.]*)|(?P<op>\.\.\.|//|->|==|!=|&&|\|\||[-+*!<>?@:;,.=(){}\[\]])""",
    re.S,
)


def template_source_as_nix(source: str) -> str:
    """The template with every `{% %}` tag dropped (all branches kept) and every `{{ }}` a placeholder."""
    return _JINJA_TAG.sub("", _JINJA_EXPR.sub(JINJA, source))


def _nix_tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _NIX_TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot read the template at {text[pos:pos + 40]!r}")
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def assigned_paths(source: str) -> list[tuple[str, ...]]:
    """Every attribute path a module template assigns a value to, across all its branches.

    `a.b = { c = 1; };` gives a.b.c; an interpolated name gives JINJA; a set
    inside a list gives a `*` element; a set passed to a function (mkIf,
    mkDefault) keeps the path it is assigned at.
    """
    tokens = _nix_tokens(template_source_as_nix(source))
    pos = 0
    if tokens and tokens[0][1] == "{":  # the module's argument pattern `{ config, lib, ... }:`
        end = _matching(tokens, 0)
        if end + 1 < len(tokens) and tokens[end + 1][1] == ":":
            pos = end + 2
    if pos >= len(tokens) or tokens[pos][1] != "{":
        raise ValueError("a module template must be `{ args }: { ... }`")
    found: list[tuple[str, ...]] = []
    _attrset(tokens, pos, (), found)
    return found


def _matching(tokens, pos) -> int:
    pairs = {"{": "}", "[": "]", "(": ")"}
    stack = [pairs[tokens[pos][1]]]
    i = pos + 1
    while stack:
        if i >= len(tokens):
            raise ValueError("unbalanced brackets in the template")
        value = tokens[i][1]
        if value in pairs:
            stack.append(pairs[value])
        elif value == stack[-1]:
            stack.pop()
        i += 1
    return i - 1


def _attrset(tokens, pos, prefix, found) -> int:
    """Read `{ path = value; ... }` starting at its `{`; returns the index after the `}`."""
    i = pos + 1
    while tokens[i][1] != "}":
        if tokens[i][1] == "inherit":
            while tokens[i][1] != ";":
                i += 1
            i += 1
            continue
        path = []
        while tokens[i][1] != "=":
            kind, value = tokens[i]
            if kind == "ident":
                path.append(value)
            elif kind == "str":
                path.append(json.loads(value))
            elif kind == "jinja":
                path.append(JINJA)
            elif value != ".":
                raise ValueError(f"unexpected {value!r} in an attribute path")
            i += 1
        i = _value(tokens, i + 1, prefix + tuple(path), found)
        if tokens[i][1] != ";":
            raise ValueError(f"';' expected after {'.'.join(prefix + tuple(path))}")
        i += 1
    return i + 1


def _value(tokens, i, path, found) -> int:
    """Read a value up to its `;`, recording the paths of the sets inside it."""
    nested = False
    while tokens[i][1] not in (";", "}", "]", ")"):
        value = tokens[i][1]
        if value == "{":
            nested = True
            i = _attrset(tokens, i, path, found)
        elif value == "[":
            nested |= _list(tokens, i, path, found)
            i = _matching(tokens, i) + 1
        elif value == "(":
            inner = _value(tokens, i + 1, path, found)
            nested |= any(p[: len(path)] == path and len(p) > len(path) for p in found)
            i = inner + 1
        else:
            i += 1
    if not nested:
        found.append(path)
    return i


def _list(tokens, i, path, found) -> bool:
    """Sets inside a list are elements (`*`); returns whether any was found."""
    end = _matching(tokens, i)
    j, any_set = i + 1, False
    while j < end:
        if tokens[j][1] == "{":
            any_set = True
            j = _attrset(tokens, j, path + (ELEM,), found)
        elif tokens[j][1] in ("[", "("):
            j = _matching(tokens, j) + 1
        else:
            j += 1
    return any_set


def static_pattern(path: tuple[str, ...], decl: Declarations) -> str:
    """The option pattern a template path reaches, as the walker would name it."""
    node, pat = decl.root, []
    parts = list(path)
    while parts:
        part = parts.pop(0)
        opt = node.option
        if opt is not None:
            if opt.role == "external":
                return ".".join(pat)
            holder = submodule_of(opt.type)
            if holder is None:
                return ".".join(pat)  # a value given below a plain option (an attrs literal)
            kind = holder[0]
            if kind == "attrsOf":
                node, pat = node.children.get(NAME, Node()), pat + [NAME]
                continue
            if kind == "listOf":
                if part != ELEM:
                    return ".".join(pat)
                node, pat = node.children.get(ELEM, Node()), pat + [ELEM]
                continue
            child = node.children.get(part)
            if child is None and opt.freeform is not None:
                return ".".join(pat + [part])
        if part == ELEM:
            continue  # a list of sets merged into one (mkMerge [ ... ]), not a listOf-submodule level
        child = node.children.get(part)
        if child is None:
            return ".".join(pat + [part] + parts)
        node, pat = child, pat + [part]
    return ".".join(pat)
