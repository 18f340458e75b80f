# The installer as a Nix package: built from pyproject.toml with setuptools,
# its Python dependencies from nixpkgs, the programs it runs on its PATH.
{
  lib,
  callPackage,
  libxcrypt,
  parted,
  gptfdisk,
  dosfstools,
  e2fsprogs,
  btrfs-progs,
  xfsprogs,
  cryptsetup,
  util-linux,
  kbd,
  nixos-install-tools,
  nixos-facter,
}:
let
  python = callPackage ./python.nix { };
  py = python.pkgs;
  project = (lib.importTOML ../pyproject.toml).project;
  # What the executor, the runner and the Keyboard step start. Appended to
  # PATH, so on the ISO its own copies (matched to its kernel and NixOS) win
  # and these only fill gaps, e.g. under `nix run` elsewhere. Not here, on
  # purpose: nix and nixos-version (the running system's own), systemd's
  # udevadm and systemctl, and mkpasswd (passwords are hashed in-process
  # with libxcrypt).
  tools = [
    parted # parted
    gptfdisk # sgdisk
    dosfstools # mkfs.fat
    e2fsprogs # mkfs.ext4
    btrfs-progs # mkfs.btrfs, btrfs subvolume
    xfsprogs # mkfs.xfs
    cryptsetup # cryptsetup luksFormat/open
    util-linux # mount, umount, wipefs, blockdev, partx, mkswap, swapon, swapoff
    kbd # loadkeys
    nixos-install-tools # nixos-install, nixos-enter
    nixos-facter # nixos-facter: the hardware report the Review step may choose
  ];
  pythonDeps = [
    py.textual
    py.pyudev
    py.pyparted
    py.jinja2
    py.pexpect
    py.tomli-w
    py.tzdata
    py.jsonschema
    py.tree-sitter
    py.tree-sitter-grammars.tree-sitter-nix
  ];
in
py.buildPythonApplication {
  pname = project.name;
  inherit (project) version;
  pyproject = true;

  # Only what the wheel is built from, so editing the tests rebuilds nothing.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../pyproject.toml
      ../README.md
      ../installer
      ../screens
      ../templates
    ];
  };

  # NixOS has no ld.so cache to find libcrypt.so.1 by name: name the file.
  # nixpkgs versions its grammar bindings after the grammar's commit
  # ("0+unstable..."), below pyproject's >=0.1, and its py-tree-sitter may sit
  # below 0.25: both lower bounds go. Not with pythonRelaxDeps: its hook matches
  # a name as a prefix, so "tree-sitter" would also rewrite
  # "tree-sitter-nix>=0.1" into a second "tree-sitter" requirement and the
  # grammar would never be checked. screens/nixsyntax.py copes with either
  # binding (and falls back to plain text).
  postPatch = ''
    substituteInPlace installer/base/hashing.py --replace-fail \
      'names = ["libcrypt.so.1", "libcrypt.so.2"]' \
      'names = ["${lib.getLib libxcrypt}/lib/libcrypt.so.1", "libcrypt.so.1", "libcrypt.so.2"]'
    substituteInPlace pyproject.toml --replace-fail '"tree-sitter>=0.25"' '"tree-sitter"' \
      --replace-fail '"tree-sitter-nix>=0.1"' '"tree-sitter-nix"'
  '';

  build-system = [ py.setuptools ];

  dependencies = pythonDeps;

  makeWrapperArgs = [
    "--suffix"
    "PATH"
    ":"
    (lib.makeBinPath tools)
  ];

  # The suite needs root, loop devices and a Nix of its own; `checks` runs
  # the part that needs none of them.
  doCheck = false;
  pythonImportsCheck = [
    "installer"
    "screens"
  ];

  passthru = { inherit python tools pythonDeps; };

  meta = {
    description = project.description;
    license = lib.licenses.mit;
    mainProgram = "nixos-tui-installer";
    platforms = lib.platforms.linux;
  };
}
