package config

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error points into the
// input, and that a configuration that parses survives Format and Parse
// unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(exampleConf))
	f.Add([]byte("interface wan { upstream }\ninterface lan { downstream }"))
	f.Add([]byte("ipv6 yes; interface \"w\\\"an\" { upstream; source 2001:db8::/32 }; interface lan { downstream; query-interval 1; query-response-interval 0.5 }"))
	f.Add([]byte("interface wan { upstream\ninterface lan { downstream; threshold 2 } extra\n}\n{\n\"unterminated"))
	f.Add([]byte("interface lan { downstream; mld-version 1; startup-query-interval 0.000000001; igmp-version 1 }\ninterface wan { upstream; source 10.0.0.1/8 }"))
	f.Add([]byte(featuresConf))
	f.Add([]byte("table 4294967295\ninterface a { upstream; priority 65535 }\ninterface b { upstream }\n" +
		"interface c { downstream; ipv6 yes; allow group any source 10.0.0.0/8; deny group ff3e::/16 source 2001:db8::/32; fast-leave yes }"))
	f.Add([]byte("table 253; table 0\ninterface a { upstream; max-groups 0; fast-leave yes }\ninterface b { downstream; priority 1; " +
		"allow group 10.0.0.0/8 source 239.0.0.0/8; deny group any; deny group 239.1.1.1; allow; deny group; allow group any src x }"))
	f.Add([]byte(instancesConf))
	f.Add([]byte("proxy a { table 9; interface x { upstream }; interface y { downstream } }\nproxy a {\n\tinterface y { upstream }\nproxy { }\ntable 9\n" +
		"interface z { downstream; proxy b { } }\nproxy \"b c\" { ipv4 no; ipv6 no; max-memory-total 1 }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(testFile, data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v is not a non-empty Errors", err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, e := range es {
				if e.Pos.File != testFile || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 1 || e.Msg == "" {
					t.Fatalf("error with a bad position or no message: %q (input has %d lines)", e.Error(), lines)
				}
			}
			return
		}
		again, err := Parse(testFile, data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("second Parse differs: %v", err)
		}
		checkRoundTrip(t, c)
	})
}
