"""Nix syntax colours for the Review step's editors, in the console's 16 colours.

The grammar is the tree-sitter-nix binding: the wheel from PyPI in a venv,
nixpkgs' tree-sitter-grammars.tree-sitter-nix in the Nix package (no compiler,
no download at run time). Its own highlights.scm uses predicates
py-tree-sitter does not run (#is-not? local) and a dozen names no theme
styles; the query here keeps to the few names the theme below colours, so
every colour is an ANSI one. Without a grammar py-tree-sitter can load the
text is shown plain, which is still all readable.
"""

from __future__ import annotations

from rich.style import Style
from textual.widgets.text_area import TextAreaTheme

LANGUAGE = "nix"
THEME = "nix-console"

HIGHLIGHTS = """
(comment) @comment
["if" "then" "else" "let" "in" "rec" "with" "inherit" "assert" "or"] @keyword
[(string_expression) (indented_string_expression)] @string
[(path_expression) (hpath_expression) (spath_expression) (uri_expression)] @string.special
[(integer_expression) (float_expression)] @number
((variable_expression name: (identifier) @boolean) (#match? @boolean "^(true|false|null)$"))
"""

# ANSI names only: the Linux console maps each to one of its 16 colours.
CONSOLE_THEME = TextAreaTheme(
    name=THEME,
    syntax_styles={
        "comment": Style(color="bright_black"),
        "keyword": Style(color="magenta"),
        "string": Style(color="green"),
        "string.special": Style(color="yellow"),
        "number": Style(color="cyan"),
        "boolean": Style(color="cyan"),
    },
)


def nix_language():
    """The tree-sitter Language for Nix, or None when no grammar can be loaded."""
    try:
        import tree_sitter_nix
        from tree_sitter import Language
    except ImportError:
        return None
    try:
        # PyPI's binding returns a capsule; nixpkgs' returns the pointer as an
        # int, which py-tree-sitter 0.25 refuses (TypeError); a grammar of an
        # ABI it does not know is a ValueError. Plain text then, never a crash.
        return Language(tree_sitter_nix.language())
    except (TypeError, ValueError):
        return None


def highlight(area) -> bool:
    """Colour a TextArea as Nix; False (plain text) without the grammar."""
    language = nix_language()
    area.register_theme(CONSOLE_THEME)
    area.theme = THEME
    if language is None:
        return False
    area.register_language(LANGUAGE, language, HIGHLIGHTS)
    area.language = LANGUAGE
    return True
