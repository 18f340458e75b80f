# `nix flake check`: the part of the suite that needs no root, no loop devices
# and no VM (the markers `make test-fast` deselects), with nixpkgs' own Nix in
# place of the Debian 13 root the Makefile builds (NIXOS_TUI_NIX_BIN).
{ pkgs, package }:
let
  python = package.passthru.python;
  env = python.withPackages (ps: package.passthru.pythonDeps ++ import ./test-python.nix ps);
in
pkgs.runCommand "nixos-tui-installer-tests"
  {
    nativeBuildInputs = [
      env
      pkgs.nix
      pkgs.tmux
    ]
    ++ package.passthru.tools;
    # The checkout without what runs leave in it (the venv, the Debian
    # root's cache): the tests read flake.nix, nix/ and the templates too.
    src = builtins.path {
      path = ../.;
      name = "source";
      filter =
        path: type:
        !(
          type == "directory"
          && builtins.elem (baseNameOf path) [
            ".git"
            ".venv"
            "cache"
            "__pycache__"
            ".hypothesis"
            "build"
            "dist"
          ]
        );
    };
  }
  ''
    cp -r --no-preserve=mode "$src" work
    cd work
    export HOME=$TMPDIR NIXOS_TUI_NIX_BIN=${pkgs.nix}/bin
    # Nix inside the build sandbox keeps its store under the build directory.
    export NIX_STORE_DIR=$TMPDIR/nix/store NIX_STATE_DIR=$TMPDIR/nix/var NIX_CONF_DIR=$TMPDIR/nix/etc
    mkdir -p $NIX_CONF_DIR
    # As tests/newnix/build-root.sh sets it up: nothing fetched, nothing built.
    printf '%s\n' 'experimental-features = nix-command flakes' 'build-users-group =' 'sandbox = false' \
      'substituters =' 'flake-registry =' > $NIX_CONF_DIR/nix.conf
    PYTHONPATH=$PWD python -m pytest -p no:cacheprovider -q -n $NIX_BUILD_CORES \
      -m 'not root and not slow and not vm'
    touch $out
  ''
