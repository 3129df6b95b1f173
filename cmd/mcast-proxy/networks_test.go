package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
)

// TestNetworksLogChanges: procd reloads the daemon on every event of a
// network, so the resolution logs only what changed.
func TestNetworksLogChanges(t *testing.T) {
	c, err := config.ParseAuto("t", []byte("config interface\n\toption network 'wan'\n\toption role 'upstream'\n"+
		"config interface\n\toption network 'lan'\n\toption role 'downstream'\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	devices := map[string]string{"lan": "br-lan"}
	n := &networks{
		log: logx.New(&buf, logx.Options{NoTime: true}),
		l3: func(net string) (string, error) {
			if d, ok := devices[net]; ok {
				return d, nil
			}
			return "", errors.New("network is not up")
		},
	}
	step := func(want ...string) {
		t.Helper()
		buf.Reset()
		r := n.resolve(c)
		got := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if buf.Len() == 0 {
			got = nil
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if r.Interfaces[1].Name != devices["lan"] {
			t.Errorf("lan resolved to %q", r.Interfaces[1].Name)
		}
	}
	step(`level=INFO msg=network network=lan device=br-lan`,
		`level=WARN msg="waiting for a network" reason="network \"wan\": network is not up"`)
	step() // nothing changed: a DHCP renewal
	devices["wan"] = "pppoe-wan"
	step(`level=INFO msg=network network=wan device=pppoe-wan`)
	step()
	delete(devices, "wan")
	step(`level=WARN msg="waiting for a network" reason="network \"wan\": network is not up"`)
}
