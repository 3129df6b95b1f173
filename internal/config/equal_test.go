package config

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// differ changes v, a field of Interface or Rule, to another value.
func differ(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	default:
		switch p := v.Addr().Interface().(type) {
		case *netip.Prefix:
			*p = netip.MustParsePrefix("198.51.100.0/24")
			return
		case *Pos:
			*p = Pos{"b.conf", 9, 9}
			return
		}
		t.Fatalf("differ: add a case for %s", v.Type())
	}
}

// TestInterfaceEqualComparesEveryField: Equal notices a change of any
// field of an interface or of one of its rules but their positions, and
// takes an empty list for a nil one. A field added to Interface or Rule
// fails here until Equal compares it.
func TestInterfaceEqualComparesEveryField(t *testing.T) {
	base := func() Interface {
		return Interface{
			Name: "br-lan", Network: "lan", Role: RoleDownstream, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			Threshold: 1, IGMPVersion: 3, MLDVersion: 2, Robustness: 2, QueryInterval: 125 * time.Second,
			QueryResponseInterval: 10 * time.Second, LastMemberQueryInterval: time.Second, StartupQueryInterval: 31 * time.Second,
			LastMemberQueryCount: 2, StartupQueryCount: 2, IPv4: true, IPv6: true, Priority: 1,
			ACL:       ACL{{Allow: true, Group: netip.MustParsePrefix("239.0.0.0/8"), Source: netip.MustParsePrefix("10.1.0.0/16"), Pos: Pos{"a.conf", 3, 1}}},
			MaxGroups: 100, MaxSources: 64, MaxMemory: 1 << 20, FastLeave: true, Pos: Pos{"a.conf", 1, 1},
		}
	}
	if a, b := base(), base(); !a.Equal(b) {
		t.Fatal("an interface differs from its copy")
	}
	typ := reflect.TypeFor[Interface]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		a, b := base(), base()
		switch name {
		case "Pos":
			b.Pos = Pos{"b.conf", 9, 9}
			if !a.Equal(b) {
				t.Errorf("Equal compares the interface's position")
			}
		case "ACL":
			rt := reflect.TypeFor[Rule]()
			for j := range rt.NumField() {
				a, b := base(), base()
				differ(t, reflect.ValueOf(&b.ACL[0]).Elem().Field(j))
				if got, want := a.Equal(b), rt.Field(j).Name == "Pos"; got != want {
					t.Errorf("rule field %s changed: Equal = %v, want %v", rt.Field(j).Name, got, want)
				}
			}
			b.ACL = append(b.ACL, Rule{})
			if a.Equal(b) {
				t.Errorf("Equal misses a rule added")
			}
		default:
			differ(t, reflect.ValueOf(&b).Elem().Field(i))
			if a.Equal(b) {
				t.Errorf("field %s changed, and Equal still reports the interfaces equal", name)
			}
		}
	}
	a, b := base(), base()
	a.Sources, a.ACL = nil, nil
	b.Sources, b.ACL = []netip.Prefix{}, ACL{}
	if !a.Equal(b) {
		t.Error("an empty list differs from a nil one")
	}
}
