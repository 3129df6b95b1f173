package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOptionTableCoversFields fails when a field of Config or Interface has
// no entry in the option table: an option that was added to the model but
// not declared would be neither parsed, formatted nor documented.
func TestOptionTableCoversFields(t *testing.T) {
	check := func(typ reflect.Type, opts []*option, notOptions ...string) {
		t.Helper()
		claimed := map[string]int{}
		for _, o := range opts {
			if _, ok := typ.FieldByName(o.field); !ok {
				t.Errorf("option %q names field %s, which %s does not have", o.name, o.field, typ.Name())
			}
			claimed[o.field]++
		}
		for i := range typ.NumField() {
			f := typ.Field(i).Name
			switch n := claimed[f]; {
			case slices.Contains(notOptions, f):
				if n > 0 {
					t.Errorf("%s.%s is not an option but the table claims it", typ.Name(), f)
				}
			case n == 0:
				t.Errorf("%s.%s has no entry in the option table (options.go)", typ.Name(), f)
			case n > 1:
				t.Errorf("%s.%s is claimed by %d options", typ.Name(), f, n)
			}
		}
	}
	check(reflect.TypeOf(Config{}), globalOptions, "File", "Name", "Pos", "Interfaces", "Proxies")
	// Name and Network are the block's name (native) or the section's
	// device and network options (UCI).
	check(reflect.TypeOf(Interface{}), interfaceOptions, "Name", "Network", "Pos")
	for _, o := range globalOptions {
		if o.global == nil || o.iface != nil || o.only != RoleDisabled {
			t.Errorf("global option %q must have global and no iface accessor, and no role", o.name)
		}
	}
	for _, o := range interfaceOptions {
		if o.iface == nil || o.global != nil {
			t.Errorf("interface option %q must have an iface and no global accessor", o.name)
		}
	}
}

// optionCase builds, for one option of the table, a configuration without
// it and one with its sample value, in the native syntax. The option is set
// globally or on interface t0, a downstream (or upstream, for upstream-only
// options). Global IPv6 is on, so that turning either family off leaves one.
func optionCase(o *option) (without, with string) {
	global := "ipv6 yes\n"
	if o.global != nil && o.name == "ipv6" {
		global = ""
	}
	role := "downstream"
	if o.only == RoleUpstream {
		role = "upstream"
	}
	base := "interface wan { upstream }\ninterface lan { downstream }\n"
	block := func(stmt string) string {
		if o.kind == kindRole {
			return "interface t0 {\n\t" + stmt + "\n}\n"
		}
		s := "interface t0 {\n\t" + role + "\n"
		if stmt != "" {
			s += "\t" + stmt + "\n"
		}
		return s + "}\n"
	}
	stmt := o.name + " " + o.sample
	if o.kind == kindRole || o.kind == kindRule {
		stmt = o.sample
	}
	if o.global != nil {
		return global + base + block(""), global + stmt + "\n" + base + block("")
	}
	if o.kind == kindRole {
		return global + base + block(role), global + base + block(stmt)
	}
	return global + base + block(""), global + base + block(stmt)
}

// TestOptionTable sets each option to its sample and checks that every
// path the table drives carries it: parsing, validation into the field the
// entry names, formatting, and the reload diff. An entry whose value
// validation forgets, or that Format leaves out, fails here.
func TestOptionTable(t *testing.T) {
	for _, o := range slices.Concat(globalOptions, interfaceOptions) {
		scope := "interface"
		if o.global != nil {
			scope = "global"
		}
		t.Run(scope+"/"+o.name, func(t *testing.T) {
			without, with := optionCase(o)
			c0, err := Parse(testFile, []byte(without))
			if err != nil {
				t.Fatalf("without the option: %v\n%s", err, without)
			}
			c1, err := Parse(testFile, []byte(with))
			if err != nil {
				t.Fatalf("with the option: %v\n%s", err, with)
			}
			var v0, v1 reflect.Value
			if o.global != nil {
				v0, v1 = reflect.ValueOf(*c0), reflect.ValueOf(*c1)
			} else {
				v0, v1 = reflect.ValueOf(c0.Interfaces[2]), reflect.ValueOf(c1.Interfaces[2])
			}
			f0, f1 := v0.FieldByName(o.field), v1.FieldByName(o.field)
			if reflect.DeepEqual(f0.Interface(), f1.Interface()) {
				t.Errorf("%s %s leaves %s at %v: validation does not fill it in", o.name, o.sample, o.field, f0)
			}
			d := Compare(c0, c1)
			if o.global != nil && !d.Global {
				t.Errorf("Compare does not see a change of global %s", o.name)
			}
			if o.global == nil && !slices.Equal(d.Changed, []string{"t0"}) {
				t.Errorf("Compare says %+v, want t0 changed", d)
			}
			text := string(c1.Format())
			want := o.name + " " + o.sample
			if o.kind == kindRole || o.kind == kindRule {
				want = o.sample
			}
			if o.kind == kindDuration {
				want = o.name + " " + formatDuration(f1.Interface().(time.Duration))
			}
			if !strings.Contains(text, want) {
				t.Errorf("Format() does not write %q:\n%s", want, text)
			}
			checkRoundTrip(t, c1)
			uci := string(formatUCI(c1))
			if !strings.Contains(uci, " "+o.uciName()+" '") {
				t.Errorf("formatUCI() does not write option %s:\n%s", o.uciName(), uci)
			}
			checkUCIRoundTrip(t, c1)
		})
	}
}
