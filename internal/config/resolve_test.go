package config

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestResolve(t *testing.T) {
	c, err := ParseAuto(testFile, []byte(`config proxy
	option ipv6 '1'
config interface 'wan'
	option network 'wan'
	option role 'upstream'
config interface 'lan'
	option network 'lan'
	option role 'downstream'
config interface 'guest'
	option network 'guest'
	option role 'downstream'
config interface 'lan2'
	option network 'lan2'
	option role 'downstream'
config interface 'iot'
	option device 'br-iot'
	option role 'downstream'
config interface 'iot_net'
	option network 'iot'
	option role 'downstream'
`))
	if err != nil {
		t.Fatal(err)
	}
	down := errors.New("network is not up")
	devices := map[string]string{"wan": "pppoe-wan", "lan": "br-lan", "lan2": "br-lan", "iot": "br-iot"}
	var asked []string
	r, errs := c.Resolve(func(n string) (string, error) {
		asked = append(asked, n)
		if d, ok := devices[n]; ok {
			return d, nil
		}
		return "", down
	})
	var names []string
	for _, i := range r.Interfaces {
		names = append(names, i.Name)
	}
	if want := []string{"pppoe-wan", "br-lan", "@guest", "@lan2", "br-iot", "@iot"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	if want := []string{"wan", "lan", "guest", "lan2", "iot"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("asked for %q, want %q", asked, want)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	want := []string{
		`network "guest": network is not up`,
		`network "lan2" has device "br-lan", which interface "@lan" already uses`,
		`network "iot" has device "br-iot", which interface "br-iot" already uses`,
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("errors\n%q\nwant\n%q", msgs, want)
	}
	if !errors.Is(errs[0], down) {
		t.Error("the error of l3 is not wrapped")
	}
	for i, want := range []string{"guest", "lan2", "iot"} {
		var ne *NetworkError
		if !errors.As(errs[i], &ne) || ne.Network != want {
			t.Errorf("error %d is %#v, want a *NetworkError for %s", i, errs[i], want)
		}
	}
	// The original is untouched, and the networks stay known.
	if c.Interfaces[0].Name != "@wan" || r.Interfaces[0].Network != "wan" {
		t.Errorf("Resolve changed its receiver or lost the network: %+v / %+v", c.Interfaces[0], r.Interfaces[0])
	}
	// A device change is a reload difference: the old device goes, the
	// new one comes.
	devices["wan"] = "eth0.7"
	r2, _ := c.Resolve(func(n string) (string, error) {
		if d, ok := devices[n]; ok {
			return d, nil
		}
		return "", fmt.Errorf("no")
	})
	d := Compare(r, r2)
	if !reflect.DeepEqual(d.Added, []string{"eth0.7"}) || !reflect.DeepEqual(d.Removed, []string{"pppoe-wan"}) || !d.Order {
		t.Errorf("Compare after a device change: %+v", d)
	}
}
