# The few `lib` functions the generated NixOS files and the stand-in module
# system use, with nixpkgs' names and meanings (priorities as in
# lib/modules.nix: a plain definition 100, mkDefault 1000, an option's
# default 1500, mkForce 50). See nixos/lib/eval.nix for what is modelled.
let
  inherit (builtins) all isAttrs isBool isFunction isInt isList isString concatStringsSep;
  type = name: description: check: { _type = "type"; inherit name description check; };
in
rec {
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkBefore = x: x;
  mkAfter = x: x;
  optionals = c: xs: if c then xs else [ ];
  optional = c: x: if c then [ x ] else [ ];

  mkOption = { type, default ? null, ... }@decl: { _type = "option"; inherit type; hasDefault = decl ? default; inherit default; };
  isOption = x: isAttrs x && (x._type or "") == "option";

  isDerivation = x: isAttrs x && (x.type or "") == "derivation";

  types = rec {
    bool = type "bool" "boolean" isBool;
    str = type "str" "string" isString;
    int = type "int" "signed integer" isInt;
    attrs = type "attrs" "attribute set" isAttrs;
    package = type "package" "package" isDerivation;
    path = type "path" "path" (v: builtins.isPath v || (isString v && builtins.substring 0 1 v == "/"));
    listOf = t: type "listOf" "list of ${t.description}" (v: isList v && all t.check v) // { list = true; };
    nullOr = t: type "nullOr" "null or ${t.description}" (v: v == null || t.check v);
    either = a: b: type "either" "${a.description} or ${b.description}" (v: a.check v || b.check v);
    enum = values: type "enum" "one of ${concatStringsSep ", " (map builtins.toJSON values)}" (v: builtins.elem v values);
    # A list of submodules: each element is checked against `options` (a tree
    # of mkOption like a module's `options`), as nixpkgs' submodule does.
    listOfSubmodule = options: type "listOf" "list of (submodule)" (v: isList v && all isAttrs v)
      // { list = true; submodule = options; };
  };
}
