# `nix develop`: the installer's Python with the test tools, and the programs
# the root tests drive (loop devices, mkfs, LUKS) and the real-terminal test.
{ pkgs, package }:
let
  python = package.passthru.python;
in
pkgs.mkShell {
  packages = [
    (python.withPackages (ps: package.passthru.pythonDeps ++ import ./test-python.nix ps))
    pkgs.nix
    pkgs.tmux
  ]
  ++ package.passthru.tools;
}
