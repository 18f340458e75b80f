# legacyPackages.<system>: exactly the attribute paths package-attrs.txt lists
# (first column), so an expression asking for anything else fails with Nix's
# own "attribute '...' missing". Plain entries are real (never built)
# derivations; the builders among them (callPackage, buildPythonApplication,
# fetchPypi, ...) are implemented here the way nixpkgs' behave for what the
# flake passes them.
{
  lib,
  system,
  attrsText,
}:
let
  inherit (builtins)
    filter
    foldl'
    head
    isFunction
    isPath
    match
    split
    elemAt
    ;
  lines = filter (l: builtins.isString l && match "[[:space:]]*(#.*)?" l == null) (
    split "\n" attrsText
  );
  listed = map (l: head (match "[[:space:]]*([^[:space:]]+).*" l)) lines;
  drv =
    name: attrs:
    derivation (
      {
        inherit name system;
        builder = "/bin/sh";
        args = [
          "-c"
          "echo this stand-in derivation is never built; exit 1"
        ];
      }
      // attrs
    );
  leafName = path: let parts = lib.splitDots path; in elemAt parts (builtins.length parts - 1);

  pythonPackage =
    pname: old:
    let
      attrs = {
        inherit pname;
        version = "0";
      } // old;
    in
    drv "python3.13-${attrs.pname}-${attrs.version}" { }
    // {
      inherit (attrs) pname version;
      overridePythonAttrs = f: pythonPackage pname (attrs // (if isFunction f then f attrs else f));
    };

  # Builders, by the path they are listed under.
  builders = {
    inherit lib;
    callPackage =
      fn: args:
      let
        f = if isPath fn then import fn else fn;
        auto = builtins.intersectAttrs (builtins.functionArgs f) pkgs;
      in
      f (auto // args);
    fetchPypi =
      {
        pname,
        version,
        hash,
        ...
      }:
      derivation {
        name = "${pname}-${version}.tar.gz";
        inherit system;
        builder = "/bin/sh";
        outputHashMode = "flat";
        outputHash = hash;
      };
    writeShellScript = name: text: drv name { inherit text; };
    runCommand = name: env: script: drv name ((removeAttrs env [ "passthru" ]) // { buildCommand = script; });
    mkShell = args: drv (args.name or "nix-shell") { packages = args.packages or [ ]; };
    "python3Packages.buildPythonApplication" =
      {
        pname,
        version,
        src,
        pyproject ? null,
        format ? null,
        dependencies ? [ ],
        build-system ? [ ],
        makeWrapperArgs ? [ ],
        postPatch ? "",
        passthru ? { },
        meta ? { },
        ...
      }:
      if pyproject == null && format == null then
        throw "${pname}-${version}: `pyproject` or `format` must be set"
      else
        drv "${pname}-${version}" {
          inherit src postPatch makeWrapperArgs;
          propagatedBuildInputs = dependencies;
          nativeBuildInputs = build-system;
        }
        # As stdenv.mkDerivation: passthru merged in and kept as itself.
        // passthru
        // {
          inherit
            pname
            version
            src
            meta
            passthru
            ;
        };
  };

  valueFor =
    path:
    builders.${path} or (
      if lib.hasPrefix "python3Packages." path then pythonPackage (leafName path) { } else drv (leafName path) { }
    );

  setPath =
    set: parts: value:
    let
      name = head parts;
      rest = builtins.tail parts;
    in
    set // { ${name} = if rest == [ ] then value else setPath (set.${name} or { }) rest value; };

  tree = foldl' (acc: path: setPath acc (lib.splitDots path) (valueFor path)) { } listed;

  # python3.pkgs is the python3Packages set; override applies packageOverrides
  # the way nixpkgs' python does (final/prev fixed point).
  mkPython =
    packageOverrides:
    let
      prev = tree.python3Packages or { };
      final = prev // packageOverrides final prev;
      self = drv "python3-3.13" { } // {
        pkgs = final;
        override = args: mkPython (args.packageOverrides or (_: _: { }));
        withPackages = f: drv "python3-3.13-env" { paths = f final; };
      };
    in
    self;

  pkgs = tree // lib.optionalAttrs (tree ? python3) { python3 = mkPython (_: _: { }); };
in
pkgs
