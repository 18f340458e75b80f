# The Python the installer runs on: nixpkgs' python3 with textual raised to
# the release the screens are written against. nixos-25.11 ships textual 6.x;
# pyproject.toml asks for >=8.2,<9 (the snapshot tests pin its rendering), and
# 8.2.8 builds with nixpkgs' own derivation: same build system (poetry-core),
# same dependencies. Overriding it for the whole package set keeps one textual
# in every environment built from this Python (the dev shell's
# pytest-textual-snapshot included).
{ python3, fetchPypi }:
let
  python = python3.override {
    self = python;
    packageOverrides = final: prev: {
      textual = prev.textual.overridePythonAttrs (old: rec {
        version = "8.2.8";
        src = fetchPypi {
          pname = "textual";
          inherit version;
          # sha256 of textual-8.2.8.tar.gz as PyPI serves it.
          hash = "sha256-PxBqn7xz453SZslxJDIIfeeKbWRAhMfCQdaiXDFpEVs=";
        };
        # The sdist has no test suite to run.
        doCheck = false;
        # textual 8.2.8 asks for rich >= 14.2; nixos-25.11 has rich 14.1. nixpkgs'
        # own textual already relaxes rich, and this override inherits that: said
        # here so it does not hang on an inherited list. The suite runs against
        # rich 14.1 too (`make test`: the compatibility venv), so the relaxation
        # is proven, not hoped.
        pythonRelaxDeps = (old.pythonRelaxDeps or [ ]) ++ [ "rich" ];
      });
    };
  };
in
python
