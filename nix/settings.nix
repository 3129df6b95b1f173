# Renders services.mcastProxy.settings as an mcast-proxy.conf(5) file. Needs
# only builtins, so it is evaluated and tested without nixpkgs
# (nix-instantiate --eval --strict; nix/nix_test.go).
#
#   (import ./settings.nix).render {
#     ipv6 = true;
#     interfaces.wan = { role = "upstream"; source = [ "198.51.100.0/24" ]; };
#     interfaces.lan = { role = "downstream"; fast-leave = true; };
#     # Further proxy instances, each with its own upstream and table:
#     proxies.tv.interfaces."eth0.7".role = "upstream";
#     proxies.tv.interfaces.br-tv.role = "downstream";
#   }
#
# Options left out or null are not written: the daemon's defaults apply.
# Unknown options and values of the wrong type are evaluation errors; the
# daemon itself (mcast-proxy -n, run by the module at build time) checks
# everything else: ranges across options, prefixes, rule order.
let
  table = import ./options.nix;

  fail = where: msg: throw "services.mcastProxy.settings${where}: ${msg}";

  isDuration = v:
    (builtins.isInt v && v >= 0)
    || (builtins.isString v && builtins.match "[0-9]+(\\.[0-9]+)?(ms|s|m)?" v != null);

  # Interface names and prefixes need quotes only for the characters the
  # grammar gives a meaning; inside quotes \ and " are escaped.
  word = s:
    if builtins.match "[^][:space:]#{};\"\\\\]+" s != null then s
    else "\"" + builtins.replaceStrings [ "\\" "\"" ] [ "\\\\" "\\\"" ] s + "\"";

  checkString = where: v:
    if builtins.isString v && v != "" then v else fail where "expected a non-empty string, got ${builtins.typeOf v}";

  # The text of one scalar value, checked against its table entry.
  scalar = where: opt: v:
    if opt.type == "bool" then
      (if builtins.isBool v then (if v then "yes" else "no") else fail where "expected true or false, got ${builtins.typeOf v}")
    else if opt.type == "int" then
      (if !builtins.isInt v then fail where "expected an integer, got ${builtins.typeOf v}"
       else if v < opt.min || v > opt.max then fail where "${toString v} is out of range ${toString opt.min}-${toString opt.max}"
       else if builtins.elem v (opt.except or [ ]) then fail where "${toString v} is not allowed"
       else toString v)
    else if opt.type == "duration" then
      (if isDuration v then toString v
       else fail where "expected seconds as an integer, or a string such as \"125s\", \"100ms\", \"1.5m\"")
    else fail where "internal error: unknown type ${opt.type}";

  rule = where: r:
    let
      known = [ "action" "group" "source" ];
      unknown = builtins.filter (k: !(builtins.elem k known)) (builtins.attrNames r);
      action = r.action or null;
      src = r.source or null;
    in
    if !builtins.isAttrs r then fail where "a rule is an attribute set { action; group; source; }"
    else if unknown != [ ] then fail where "unknown rule attribute \"${builtins.head unknown}\" (known: action, group, source)"
    else if action != "allow" && action != "deny" then fail where "action must be \"allow\" or \"deny\""
    else
      "${action} group ${word (checkString "${where}.group" (r.group or null))}"
      + (if src == null then "" else " source ${word (checkString "${where}.source" src)}");

  # The statements of one option, without indentation.
  statements = where: name: opt: v:
    if v == null then [ ]
    else if opt.type == "role" then
      (if builtins.elem v [ "upstream" "downstream" "disabled" ] then [ v ]
       else fail where "role must be \"upstream\", \"downstream\" or \"disabled\"")
    else if opt.type == "prefixes" then
      (if builtins.isList v then map (p: "${name} ${word (checkString where p)}") v
       else fail where "expected a list of prefixes")
    else if opt.type == "rules" then
      (if builtins.isList v then builtins.genList (i: rule "${where}.${toString i}" (builtins.elemAt v i)) (builtins.length v)
       else fail where "expected a list of rules")
    else [ "${name} ${scalar where opt v}" ];

  # The statements of a section: the role first and the access list last,
  # as mcast-proxy.conf(5) writes them, the rest in alphabetical order.
  section = where: options: attrs:
    let
      unknown = builtins.filter (k: !(builtins.hasAttr k options)) (builtins.attrNames attrs);
      names = builtins.attrNames options;
      ordered = builtins.filter (n: n == "role") names
        ++ builtins.filter (n: n != "role" && n != "rules") names
        ++ builtins.filter (n: n == "rules") names;
    in
    if !builtins.isAttrs attrs then fail where "expected an attribute set"
    else if unknown != [ ] then
      fail where "unknown option \"${builtins.head unknown}\"; mcast-proxy.conf(5) lists the options"
    else
      builtins.concatLists (map
        (name: statements "${where}.${name}" name options.${name} (attrs.${name} or null))
        ordered);

  interface = prefix: indent: name: attrs:
    let where = "${prefix}.interfaces.${name}"; in
    if (attrs.role or null) == null then fail where "every interface needs a role: \"upstream\", \"downstream\" or \"disabled\""
    else "${indent}interface ${word name} {\n"
      + builtins.concatStringsSep "" (map (s: "${indent}    ${s}\n") (section where table.interface attrs))
      + "${indent}}\n";

  # The settings and interfaces of one proxy instance: the top level, or
  # one of `proxies`.
  instance = prefix: indent: s:
    let
      globals = builtins.removeAttrs s [ "interfaces" "proxies" ];
      interfaces = s.interfaces or { };
      head = section prefix table.global globals;
    in
    if !builtins.isAttrs interfaces then fail "${prefix}.interfaces" "expected an attribute set of interfaces"
    else
      builtins.concatStringsSep "" (map (l: "${indent}${l}\n") head)
      + builtins.concatStringsSep "" (map (n: "\n" + interface prefix indent n interfaces.${n}) (builtins.attrNames interfaces));

  render = settings:
    let
      s = if builtins.isAttrs settings then settings else fail "" "expected an attribute set";
      proxies = s.proxies or { };
      proxy = name: p:
        let where = ".proxies.${name}"; in
        if !builtins.isAttrs p then fail where "expected an attribute set"
        else if builtins.hasAttr "proxies" p then fail where "proxy instances do not nest"
        else "\nproxy ${word name} {\n" + instance where "    " p + "}\n";
    in
    if !builtins.isAttrs proxies then fail ".proxies" "expected an attribute set of proxy instances"
    else
      "# Generated from services.mcastProxy.settings; see mcast-proxy.conf(5).\n"
      + instance "" "" s
      + builtins.concatStringsSep "" (map (n: proxy n proxies.${n}) (builtins.attrNames proxies));
in
{
  inherit render;
  options = table;
}
