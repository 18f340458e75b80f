# The project's flake outputs against the nixpkgs stand-in, without the flake
# machinery: for evaluating many variants quickly (tests/test_flake.py).
# `src` is the project tree, `standin` tests/standins/nixpkgs-flake,
# `attrsText` the package-attrs.txt the stand-in's pkgs are built from.
{
  src,
  standin,
  attrsText,
}:
let
  nixpkgs = import (standin + "/default.nix") { inherit attrsText; } // { outPath = standin; };
  self = (import (src + "/flake.nix")).outputs { inherit self nixpkgs; } // { outPath = src; };
in
self
