# Every option of mcast-proxy.conf(5) at least once, each with a value that
# is not the daemon's default. nix/nix_test.go checks that the rendered file
# uses every keyword of the daemon.
{
  ipv4 = true;
  ipv6 = true;
  table = 100;
  max-memory-total = 8192;
  interfaces = {
    dsl = {
      role = "upstream";
      priority = 10;
      source = [ "192.0.2.0/24" "2001:db8::/32" ];
      threshold = 3;
      ipv4 = true;
      ipv6 = true;
      rules = [ { action = "deny"; group = "239.255.255.250"; } ];
    };
    lte = {
      role = "upstream";
      priority = 20;
      ipv6 = false;
    };
    lan = {
      role = "downstream";
      threshold = 2;
      ipv4 = true;
      ipv6 = true;
      igmp-version = 2;
      mld-version = 1;
      robustness = 3;
      query-interval = 60;
      query-response-interval = "5s";
      last-member-query-interval = "200ms";
      last-member-query-count = 3;
      startup-query-interval = "1.5m";
      startup-query-count = 4;
      max-groups = 64;
      max-memory = 512;
      max-sources = 16;
      fast-leave = true;
      rules = [
        { action = "allow"; group = "232.0.0.0/8"; source = "192.0.2.0/24"; }
        { action = "allow"; group = "239.0.0.0/8"; }
        { action = "deny"; group = "any"; }
      ];
    };
    spare = {
      role = "disabled";
      query-interval = "30s";
    };
  };
  proxies.tv = {
    ipv6 = false;
    table = 120;
    max-memory-total = 2048;
    interfaces = {
      "eth0.7" = { role = "upstream"; source = [ "10.0.0.0/8" ]; };
      br-tv = { role = "downstream"; fast-leave = true; };
    };
  };
}
