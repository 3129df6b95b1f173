# An IPTV router: TV on VLAN 7 of the WAN port from headends outside the
# VLAN's subnet, IPv4 and IPv6, a set-top box LAN with IGMPv2 boxes, a guest
# LAN that only gets packets with a TTL above 2, SSDP kept off the upstream.
{
  ipv6 = true;
  interfaces = {
    "eth0.7" = {
      role = "upstream";
      source = [ "198.51.100.0/24" "203.0.113.0/26" "2001:db8:100::/48" ];
      rules = [
        { action = "deny"; group = "239.255.255.250"; }
        { action = "deny"; group = "ff05::c"; }
      ];
    };
    br-tv = {
      role = "downstream";
      igmp-version = 2;
      last-member-query-interval = "500ms";
      last-member-query-count = 2;
      fast-leave = true;
      rules = [
        { action = "allow"; group = "232.0.0.0/8"; source = "198.51.100.0/24"; }
        { action = "allow"; group = "239.3.0.0/16"; }
        { action = "deny"; group = "any"; }
      ];
    };
    br-guest = {
      role = "downstream";
      threshold = 2;
      ipv6 = false;
    };
    br-lan.role = "disabled";
  };
}
