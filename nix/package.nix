# mcast-proxy, built the way the Makefile builds it: static (no cgo),
# trimmed paths, stripped, the version stamped into the binary. Installs
# the systemd unit (with this package's paths) and the manuals.
#
#   nix-build nix -A mcast-proxy        (nix/default.nix)
{ lib, buildGoModule, version ? "0.1.0-dev" }:

buildGoModule {
  pname = "mcast-proxy";
  inherit version;

  # The repository without what the build does not read.
  src = lib.cleanSourceWith {
    src = lib.cleanSource ../.;
    filter = path: type:
      let rel = lib.removePrefix (toString ../. + "/") (toString path); in
      !(lib.hasPrefix "bin" rel || lib.hasPrefix "nix/" rel || rel == "nix");
  };

  # `go mod vendor` of go.mod and go.sum, hashed with `nix hash path`.
  # nix/nix_test.go recomputes it: update it when go.sum changes.
  vendorHash = "sha256-tjCY/agOMXcaJqGugYVn/AKqSb8uXq9tAwcPUFcGOCQ=";

  subPackages = [ "cmd/mcast-proxy" ];

  env.CGO_ENABLED = 0;
  ldflags = [ "-s" "-w" "-X main.version=${version}" ];

  postInstall = ''
    install -Dm0644 init/mcast-proxy.service $out/lib/systemd/system/mcast-proxy.service
    substituteInPlace $out/lib/systemd/system/mcast-proxy.service \
      --replace-fail /usr/bin/mcast-proxy $out/bin/mcast-proxy
    install -Dm0644 -t $out/share/doc/mcast-proxy README.md docs/*.md
  '';

  meta = {
    description = "IGMP/MLD multicast proxy (RFC 4605) for Linux routers";
    homepage = "https://github.com/mcast-proxy/mcast-proxy";
    mainProgram = "mcast-proxy";
    platforms = lib.platforms.linux;
  };
}
