# The nixpkgs lib functions the flake and nix/*.nix use, with nixpkgs'
# behaviour for the cases they hit (lib/attrsets.nix, lib/meta.nix,
# lib/fileset, lib/options.nix, lib/modules.nix, lib/types.nix).
let
  inherit (builtins)
    all
    any
    attrNames
    concatStringsSep
    elem
    filter
    foldl'
    isAttrs
    isList
    isString
    length
    listToAttrs
    pathExists
    stringLength
    substring
    ;
  hasPrefix = pre: s: substring 0 (stringLength pre) s == pre;
  showLoc = concatStringsSep ".";
  mergeEqual =
    loc: defs:
    let
      first = (builtins.head defs).value;
    in
    if all (d: d.value == first) defs then
      first
    else
      throw "The option `${showLoc loc}' has conflicting definition values.";
  mkType = name: description: check: merge: {
    _type = "option-type";
    inherit name description check merge;
  };
  isDerivation = v: isAttrs v && (v.type or null) == "derivation";
  types = rec {
    bool = mkType "bool" "boolean" builtins.isBool mergeEqual;
    str = mkType "str" "string" isString mergeEqual;
    lines = mkType "lines" "strings concatenated with \"\\n\"" isString (
      loc: defs: concatStringsSep "\n" (map (d: d.value) defs)
    );
    package = mkType "package" "package" isDerivation (
      loc: defs:
      if length defs == 1 then
        (builtins.head defs).value
      else
        throw "The unique option `${showLoc loc}' is defined multiple times."
    );
    unspecified = mkType "unspecified" "unspecified value" (_: true) (
      loc: defs: if length defs == 1 then (builtins.head defs).value else mergeEqual loc defs
    );
    attrs = mkType "attrs" "attribute set" isAttrs (loc: defs: foldl' (a: d: a // d.value) { } defs);
    listOf =
      t:
      mkType "listOf" "list of ${t.description}" (v: isList v && all t.check v) (
        loc: defs: builtins.concatMap (d: d.value) defs
      );
    nullOr =
      t:
      mkType "nullOr" "null or ${t.description}" (v: v == null || t.check v) (
        loc: defs:
        let
          set = filter (d: d.value != null) defs;
        in
        if set == [ ] then null else t.merge loc set
      );
    either =
      a: b:
      mkType "either" "${a.description} or ${b.description}" (v: a.check v || b.check v) mergeEqual;
    # system.build: attributes from many modules, each defined once.
    lazyAttrsOfUnique = mkType "lazyAttrsOf" "lazy attribute set of unique values" isAttrs (
      loc: defs:
      foldl' (
        acc: d:
        acc
        // builtins.mapAttrs (
          n: v:
          if acc ? ${n} then throw "The unique option `${showLoc (loc ++ [ n ])}' is defined multiple times." else v
        ) d.value
      ) { } defs
    );
  };
in
rec {
  inherit types hasPrefix isDerivation;
  splitDots = s: builtins.filter builtins.isString (builtins.split "\\." s);
  genAttrs =
    names: f:
    listToAttrs (
      map (n: {
        name = n;
        value = f n;
      }) names
    );
  optionalAttrs = cond: set: if cond then set else { };
  optionalString = cond: s: if cond then s else "";
  escapeShellArg =
    arg:
    let
      s = toString arg;
    in
    if builtins.match "[[:alnum:],._+:@%/-]+" s == null then
      "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] s}'"
    else
      s;
  getLib = drv: drv.lib or drv.out or drv;
  getBin = drv: drv.bin or drv.out or drv;
  makeBinPath = pkgs: concatStringsSep ":" (map (p: "${getBin p}/bin") pkgs);
  getExe =
    drv:
    if drv ? meta.mainProgram then
      "${getBin drv}/bin/${drv.meta.mainProgram}"
    else
      throw "getExe: ${drv.name} has no meta.mainProgram";
  importTOML = path: builtins.fromTOML (builtins.readFile path);
  licenses.mit = {
    spdxId = "MIT";
    fullName = "MIT License";
  };
  platforms.linux = [
    "x86_64-linux"
    "aarch64-linux"
  ];
  literalExpression = text: {
    _type = "literalExpression";
    inherit text;
  };

  fileset = {
    unions =
      paths:
      let
        missing = filter (p: !pathExists p) paths;
      in
      if missing != [ ] then
        throw "lib.fileset.unions: Element ${toString (builtins.head missing)} is a path that does not exist."
      else
        {
          _type = "fileset";
          inherit paths;
        };
    toSource =
      { root, fileset }:
      builtins.path {
        path = root;
        name = "source";
        filter =
          path: _:
          any (
            f:
            let
              fs = toString f;
            in
            path == fs || hasPrefix (fs + "/") path || hasPrefix (path + "/") fs
          ) fileset.paths;
      };
  };

  mkOption =
    {
      type ? types.unspecified,
      default ? null,
      description ? "",
      ...
    }@args:
    {
      _type = "option";
      inherit type description;
      hasDefault = args ? default;
      inherit default;
    };
  mkEnableOption =
    name:
    mkOption {
      type = types.bool;
      default = false;
      description = "Whether to enable ${name}.";
    };
  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkMerge = contents: {
    _type = "merge";
    inherit contents;
  };
  mkOverride = priority: content: {
    _type = "override";
    inherit priority content;
  };
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  mkOrder = priority: content: {
    _type = "order";
    inherit priority content;
  };
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;
  showOption = showLoc;
}
