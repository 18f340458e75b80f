"""The Review editors' Nix grammar: any binding py-tree-sitter refuses means plain text, never a crash."""

from __future__ import annotations

import ctypes

import pytest

tree_sitter_nix = pytest.importorskip("tree_sitter_nix")

from screens import nixsyntax  # noqa: E402


def test_the_pypi_grammar_loads():
    assert nixsyntax.nix_language() is not None


def _pointer() -> int:
    """The grammar as nixpkgs' binding returns it: the TSLanguage pointer as an int."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return get(tree_sitter_nix.language(), b"tree_sitter.Language")


@pytest.mark.parametrize("given", ["pointer", "nonsense", "none"])
def test_a_grammar_py_tree_sitter_refuses_is_plain_text(monkeypatch, given):
    value = {"pointer": _pointer, "nonsense": lambda: 12345, "none": lambda: None}[given]()
    monkeypatch.setattr(tree_sitter_nix, "language", lambda: value)
    language = nixsyntax.nix_language()  # the real py-tree-sitter takes it or refuses it
    if given != "pointer":
        assert language is None
