//go:build linux

// Command mcast-demo shows mcast-proxy forwarding multicast between network
// namespaces: a source, a router running the proxy, and two receivers. It
// needs root and cleans everything up when it ends, also on Ctrl-C.
//
//	sudo make demo
//	sudo go run ./cmd/mcast-demo -bin bin/mcast-proxy
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

var (
	tv1     = netip.MustParseAddrPort("239.1.1.1:5001")
	tv2     = netip.MustParseAddrPort("239.2.2.2:5001")
	tv6     = netip.MustParseAddrPort("[ff0e::1:1]:5002")
	source  = netip.MustParseAddr("10.0.0.2")
	source6 = netip.MustParseAddr("2001:db8::2")
)

const config = `# mcast-proxy configuration used by the demo
ipv4 yes
ipv6 yes
interface up0 { upstream; source 10.0.0.0/24 }
interface lan1 { downstream; query-interval 5s; query-response-interval 1s; last-member-query-interval 200ms }
interface lan2 { downstream; query-interval 5s; query-response-interval 1s; last-member-query-interval 200ms }
`

var errInterrupted = errors.New("interrupted")

func main() {
	bin := flag.String("bin", "bin/mcast-proxy", "path of the mcast-proxy `binary` to run")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "mcast-demo needs root to create network namespaces: run 'sudo make demo'")
		os.Exit(1)
	}
	if err := run(*bin); err != nil {
		if errors.Is(err, errInterrupted) {
			fmt.Println("\nInterrupted; everything has been cleaned up.")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "mcast-demo:", err)
		os.Exit(1)
	}
}

// demo holds the lab and the interrupt channel shared by the steps.
type demo struct {
	lab  *netlab.Lab
	sigs chan os.Signal
}

// pause waits d, or returns errInterrupted on Ctrl-C or SIGTERM.
func (d *demo) pause(dur time.Duration) error {
	select {
	case <-d.sigs:
		return errInterrupted
	case <-time.After(dur):
		return nil
	}
}

func run(bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("daemon binary: %w (build it with 'make build')", err)
	}
	d := &demo{sigs: make(chan os.Signal, 1)}
	signal.Notify(d.sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(d.sigs)

	lab, err := netlab.New()
	if err != nil {
		return err
	}
	d.lab = lab
	defer func() {
		fmt.Println("\n== Cleaning up: stopping the proxy and deleting the namespaces.")
		if err := lab.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "mcast-demo: cleanup:", err)
		}
	}()

	fmt.Println("== Building a small network out of Linux network namespaces")
	fmt.Println(`
     source 10.0.0.2                     receiver1 192.168.1.11
            2001:db8::2                          2001:db8:1::11
          |                                   |
        (up0) 10.0.0.1 --- router --- (lan1) 192.168.1.1
                          mcast-proxy
                                 \--- (lan2) 192.168.2.1
                                              |
                                     receiver2 192.168.2.12`)
	if err := d.build(); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "mcast-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "mcast-proxy.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		return err
	}
	fmt.Printf("\n== Starting mcast-proxy in the router with this configuration:\n\n%s\n", config)
	proxy, err := lab.Start("router", bin, "-d", "-f", conf, "-s", filepath.Join(dir, "mcast-proxy.sock"))
	if err != nil {
		return err
	}
	if err := d.waitReady(proxy); err != nil {
		return err
	}
	fmt.Println("The proxy has registered its interfaces with the kernel's multicast router.")

	fmt.Printf("\n== Receiver 1 joins %s, receiver 2 joins %s (IGMP reports go to the router)\n", tv1.Addr(), tv2.Addr())
	r1, err := lab.NewReceiver("rcv1", "eth0", tv1, netlab.AnySource)
	if err != nil {
		return err
	}
	r2, err := lab.NewReceiver("rcv2", "eth0", tv2, netlab.AnySource)
	if err != nil {
		return err
	}
	fmt.Printf("== Receiver 1 also joins the IPv6 group %s (an MLD report)\n", tv6.Addr())
	r6, err := lab.NewReceiver("rcv1", "eth0", tv6, netlab.AnySource)
	if err != nil {
		return err
	}
	sn1, err := lab.NewSniffer("rcv1", "eth0")
	if err != nil {
		return err
	}
	fmt.Printf("== The source starts two streams of 100 packets per second: %s and %s\n", tv1.Addr(), tv2.Addr())
	for _, g := range []netip.AddrPort{tv1, tv2} {
		if _, err := lab.NewSender("src", "eth0", source, g, 10*time.Millisecond); err != nil {
			return err
		}
	}
	fmt.Printf("== and an IPv6 stream to %s from %s\n", tv6.Addr(), source6)
	if _, err := lab.NewSender("src", "eth0", source6, tv6, 10*time.Millisecond); err != nil {
		return err
	}

	fmt.Println("\nWhat each receiver gets, second by second (receiver 2 asked for 239.2.2.2 only):")
	if err := d.report(4, r1, r2, r6); err != nil {
		return err
	}

	fmt.Println("\n== The kernel's multicast forwarding table in the router (ip mroute show, ip -6 mroute show):")
	for _, fam := range [][]string{{"mroute", "show"}, {"-6", "mroute", "show"}} {
		if out, err := lab.IPOutput("router", fam...); err == nil {
			fmt.Print(indent(out))
		} else {
			fmt.Println("  ", err)
		}
	}
	fmt.Println("Each line: (source, group), the interface it arrives on, and where it is copied to.")
	fmt.Println("\n== The router's virtual interfaces (/proc/net/ip_mr_vif):")
	if vifs, err := lab.ReadProc("router", "net/ip_mr_vif"); err == nil {
		fmt.Print(indent(vifs))
	}

	fmt.Printf("\n== Receiver 1 leaves %s (an IGMP leave goes to the router)\n", tv1.Addr())
	left := time.Now()
	if err := r1.Leave(); err != nil {
		return err
	}
	fmt.Println("What reaches receiver 1's network now, second by second:")
	for i := 1; i <= 3; i++ {
		from := time.Now()
		if err := d.pause(time.Second); err != nil {
			return err
		}
		n := sn1.Count(netlab.UDPTo(tv1.Addr(), source, from))
		fmt.Printf("  second %d: %3d packets of %s on receiver 1's wire\n", i, n, tv1.Addr())
	}
	if last, ok := sn1.Last(netlab.UDPTo(tv1.Addr(), source, left)); ok {
		fmt.Printf("The router stopped forwarding %s to lan1 %v after the leave\n", tv1.Addr(), last.Sub(left).Round(time.Millisecond))
		fmt.Println("(it first asks the LAN whether anyone else still wants the group: the last member query).")
	} else {
		fmt.Printf("The router stopped forwarding %s to lan1 at once.\n", tv1.Addr())
	}
	if err := d.report(1, r1, r2, r6); err != nil {
		return err
	}
	if proxy.Exited() {
		return fmt.Errorf("mcast-proxy exited with code %d:\n%s", proxy.ExitCode(), proxy.Stderr())
	}
	fmt.Println("\n== Done: the proxy forwarded each group only where it was wanted.")
	return nil
}

func (d *demo) build() error {
	l := d.lab
	steps := []func() error{
		func() error { return l.AddNS("src", "router", "rcv1", "rcv2") },
		func() error { return l.DisableDAD("src", "router", "rcv1", "rcv2") },
		func() error { return l.Link("src", "eth0", "router", "up0") },
		func() error { return l.Link("router", "lan1", "rcv1", "eth0") },
		func() error { return l.Link("router", "lan2", "rcv2", "eth0") },
		func() error { return l.Addr("src", "eth0", "10.0.0.2/24") },
		func() error { return l.Addr("router", "up0", "10.0.0.1/24") },
		func() error { return l.Addr("router", "lan1", "192.168.1.1/24") },
		func() error { return l.Addr("router", "lan2", "192.168.2.1/24") },
		func() error { return l.Addr("rcv1", "eth0", "192.168.1.11/24") },
		func() error { return l.Addr("rcv2", "eth0", "192.168.2.12/24") },
		func() error { return l.AddrNoDAD("src", "eth0", "2001:db8::2/64") },
		func() error { return l.AddrNoDAD("router", "up0", "2001:db8::1/64") },
		func() error { return l.AddrNoDAD("router", "lan1", "2001:db8:1::1/64") },
		func() error { return l.AddrNoDAD("router", "lan2", "2001:db8:2::1/64") },
		func() error { return l.AddrNoDAD("rcv1", "eth0", "2001:db8:1::11/64") },
		func() error { return l.AddrNoDAD("rcv2", "eth0", "2001:db8:2::12/64") },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	for _, key := range []string{"all", "default", "up0", "lan1", "lan2"} {
		if err := l.Sysctl("router", "net/ipv4/conf/"+key+"/rp_filter", "0"); err != nil {
			return err
		}
	}
	return nil
}

// waitReady polls the router's VIF table until the proxy has added its
// interfaces.
func (d *demo) waitReady(proxy *netlab.Proc) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		vifs, err := d.lab.ReadProc("router", "net/ip_mr_vif")
		if err != nil {
			return err
		}
		if strings.Contains(vifs, "up0") && strings.Contains(vifs, "lan1") && strings.Contains(vifs, "lan2") {
			return nil
		}
		if proxy.Exited() {
			return fmt.Errorf("mcast-proxy exited with code %d:\n%s", proxy.ExitCode(), proxy.Stderr())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mcast-proxy did not set up multicast routing within 10 s; its log:\n%s", proxy.Stderr())
		}
		if err := d.pause(50 * time.Millisecond); err != nil {
			return err
		}
	}
}

// report prints, for secs seconds, how many packets of each group each
// receiver got in the last second.
func (d *demo) report(secs int, rs ...*netlab.Receiver) error {
	for range secs {
		from := time.Now()
		if err := d.pause(time.Second); err != nil {
			return err
		}
		var parts []string
		for _, r := range rs {
			src, who := source, "receiver 1"
			if r.Group().Addr().Is6() {
				src = source6
			}
			if r.Group() == tv2 {
				who = "receiver 2"
			}
			n := r.CountSince(src, from)
			parts = append(parts, fmt.Sprintf("%s: %3d/s of %s", who, n, r.Group().Addr()))
		}
		fmt.Println("  " + strings.Join(parts, "   "))
	}
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "   (empty)\n"
	}
	return "   " + strings.ReplaceAll(s, "\n", "\n   ") + "\n"
}
