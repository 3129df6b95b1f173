# The firewall rules services.mcastProxy.openFirewall adds, for both NixOS
# firewall backends, from the same settings as settings.nix. Needs only
# builtins; nix/nix_test.go compares the output with expected files.
#
# What NixOS's firewall does to a multicast proxy, and the answer:
# - input: it drops everything not allowed, IGMP included (ICMPv6, and so
#   MLD, is accepted). IGMP queries from the provider's router on the
#   upstream and reports from hosts on the downstreams reach the daemon's
#   raw sockets only after the input chain, so IGMP is accepted on every
#   interface the daemon uses.
# - forward: with the nftables backend and networking.firewall.filterForward,
#   forwarded packets need a rule: UDP to 224.0.0.0/4 and ff00::/8 from the
#   upstreams to the downstreams. (The iptables backend does not filter
#   forwarding.)
# - reverse path: checkReversePath (strict by default) drops multicast
#   whose sender is not routed back through the interface it arrived on.
#   Senders in the upstream's `source` prefixes are often routed elsewhere,
#   so multicast from them on the upstreams passes the check.
let
  enabledRoles = [ "upstream" "downstream" ];

  names = role: interfaces:
    builtins.filter (n: (interfaces.${n}.role or null) == role) (builtins.attrNames interfaces);

  # The effective family switches of an interface, as the daemon sees them.
  family = settings: fam: ifc:
    let v = ifc.${fam} or null; in
    if v != null then v
    else let g = settings.${fam} or null; in
    if g != null then g else fam == "ipv4";

  isIPv6 = p: builtins.match ".*:.*" p != null;

  quoteAll = ns: builtins.concatStringsSep ", " (map (n: "\"${n}\"") ns);

  # The rules of every proxy instance together: the top level and each of
  # `proxies`, which inherits the top level's ipv4 and ipv6.
  rules = settings:
    let
      proxies = settings.proxies or { };
      inherit' = p: p // builtins.listToAttrs (builtins.concatMap
        (fam: let v = p.${fam} or null; in
          if v == null && (settings.${fam} or null) != null then [ { name = fam; value = settings.${fam}; } ] else [ ])
        [ "ipv4" "ipv6" ]);
      all = [ settings ] ++ map (n: inherit' proxies.${n}) (builtins.attrNames proxies);
      each = map instanceRules all;
      join = key: builtins.concatStringsSep "" (map (r: r.${key}) each);
    in
    {
      iptables = join "iptables";
      nftablesInput = join "nftablesInput";
      nftablesForward = join "nftablesForward";
      nftablesReversePath = join "nftablesReversePath";
    };

  instanceRules = settings:
    let
      interfaces = settings.interfaces or { };
      used = builtins.filter (n: builtins.elem (interfaces.${n}.role or null) enabledRoles) (builtins.attrNames interfaces);
      v4 = builtins.filter (n: family settings "ipv4" interfaces.${n}) used;
      v6 = builtins.filter (n: family settings "ipv6" interfaces.${n}) used;
      ups = names "upstream" interfaces;
      downs = names "downstream" interfaces;
      up4 = builtins.filter (n: builtins.elem n v4) ups;
      up6 = builtins.filter (n: builtins.elem n v6) ups;
      down4 = builtins.filter (n: builtins.elem n v4) downs;
      down6 = builtins.filter (n: builtins.elem n v6) downs;
      sources = n: let s = interfaces.${n}.source or null; in if s == null then [ ] else s;
      sources4 = n: builtins.filter (p: !(isIPv6 p)) (sources n);
      sources6 = n: builtins.filter isIPv6 (sources n);
      lines = ls: builtins.concatStringsSep "" (map (l: l + "\n") ls);
      flatten = builtins.concatLists;
    in
    {
      # networking.firewall.extraCommands (iptables backend).
      iptables = lines (
        map (n: "iptables -A nixos-fw -i ${n} -p igmp -j nixos-fw-accept") v4
        ++ flatten (map (n: map (p:
          "if iptables -t mangle -n -L nixos-fw-rpfilter >/dev/null 2>&1; then iptables -t mangle -I nixos-fw-rpfilter -i ${n} -s ${p} -d 224.0.0.0/4 -j RETURN; fi")
          (sources4 n)) up4)
        ++ flatten (map (n: map (p:
          "if ip6tables -t mangle -n -L nixos-fw-rpfilter >/dev/null 2>&1; then ip6tables -t mangle -I nixos-fw-rpfilter -i ${n} -s ${p} -d ff00::/8 -j RETURN; fi")
          (sources6 n)) up6)
      );

      # networking.firewall.extraInputRules (nftables backend).
      nftablesInput = lines (
        (if v4 == [ ] then [ ] else [ "iifname { ${quoteAll v4} } ip protocol igmp accept comment \"mcast-proxy: IGMP\"" ])
      );

      # networking.firewall.extraForwardRules (nftables backend, used with
      # filterForward).
      nftablesForward = lines (
        (if up4 == [ ] || down4 == [ ] then [ ] else
          [ "iifname { ${quoteAll up4} } oifname { ${quoteAll down4} } ip daddr 224.0.0.0/4 meta l4proto udp accept comment \"mcast-proxy: forwarded IPv4 multicast\"" ])
        ++ (if up6 == [ ] || down6 == [ ] then [ ] else
          [ "iifname { ${quoteAll up6} } oifname { ${quoteAll down6} } ip6 daddr ff00::/8 meta l4proto udp accept comment \"mcast-proxy: forwarded IPv6 multicast\"" ])
      );

      # networking.firewall.extraReversePathFilterRules (nftables backend).
      nftablesReversePath = lines (
        flatten (map (n: map (p: "iifname \"${n}\" ip saddr ${p} ip daddr 224.0.0.0/4 accept comment \"mcast-proxy: source\"") (sources4 n)) up4)
        ++ flatten (map (n: map (p: "iifname \"${n}\" ip6 saddr ${p} ip6 daddr ff00::/8 accept comment \"mcast-proxy: source\"") (sources6 n)) up6)
      );
    };
in
{
  inherit rules;
}
