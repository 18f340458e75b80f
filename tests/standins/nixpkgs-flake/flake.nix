# A small nixpkgs for the flake tests (tests/test_flake.py), used with
# `--override-input nixpkgs path:<a copy of this directory>`. It is real Nix,
# not a recording: `lib` holds the functions the flake calls, legacyPackages
# holds exactly the attributes listed in package-attrs.txt (the test copies
# tests/data/nixpkgs-25.11/package-attrs.txt next to this file), and
# lib.nixosSystem evaluates modules with a module system of its own that
# refuses undeclared options and wrongly typed values.
{
  outputs = { self }: import ./default.nix { attrsText = builtins.readFile ./package-attrs.txt; };
}
