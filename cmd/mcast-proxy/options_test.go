package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestParseOptions: getopt's forms (grouped switches, attached and separate
// arguments, "--"), and the forms of Go's flag package that scripts use.
func TestParseOptions(t *testing.T) {
	tests := []struct {
		args    []string
		want    string // the options seen, in order, as letter=argument
		rest    []string
		wantErr string // in stderr; "" for none, "usage" for -h
	}{
		{args: nil, want: ""},
		{args: []string{"-d"}, want: "d"},
		{args: []string{"-dnv"}, want: "d n v"},
		{args: []string{"-vv", "-v"}, want: "v v v"},
		{args: []string{"-f", "a.conf", "-s", "/run/x.sock"}, want: "f=a.conf s=/run/x.sock"},
		{args: []string{"-fa.conf"}, want: "f=a.conf"},
		{args: []string{"-f=a.conf"}, want: "f=a.conf"},
		{args: []string{"-df", "a.conf"}, want: "d f=a.conf"},
		{args: []string{"-dfa.conf", "-v"}, want: "d f=a.conf v"},
		{args: []string{"-s", ""}, want: "s="},
		{args: []string{"-f", "-d"}, want: "f=-d"},
		{args: []string{"-d", "--", "-v"}, want: "d", rest: []string{"-v"}},
		{args: []string{"-d", "extra", "-v"}, want: "d", rest: []string{"extra", "-v"}},
		{args: []string{"-", "-v"}, want: "", rest: []string{"-", "-v"}},
		{args: []string{"-x"}, wantErr: "unknown option -x"},
		{args: []string{"-dx"}, wantErr: "unknown option -x"},
		{args: []string{"-f"}, wantErr: "option -f needs an argument (file)"},
		{args: []string{"-h"}, wantErr: "usage"},
		{args: []string{"-dh"}, wantErr: "usage"},
		{args: []string{"-help"}, wantErr: "usage"},
		{args: []string{"--help"}, wantErr: "usage"},
	}
	for _, tt := range tests {
		var seen []string
		note := func(c string) func(string) {
			return func(v string) {
				if c == "f" || c == "s" {
					c += "=" + v
				}
				seen = append(seen, c)
			}
		}
		opts := []option{
			{letter: 'd', set: note("d")}, {letter: 'n', set: note("n")}, {letter: 'v', set: note("v")},
			{letter: 'f', arg: "file", set: note("f")}, {letter: 's', arg: "socket", set: note("s")},
		}
		var stderr bytes.Buffer
		rest, err := parseOptions(opts, tt.args, &stderr, func() { stderr.WriteString("usage\n") })
		switch {
		case tt.wantErr == "usage":
			if !errors.Is(err, errHelp) || stderr.String() != "usage\n" {
				t.Errorf("%q: error %v, stderr %q; want help and the usage", tt.args, err, stderr.String())
			}
		case tt.wantErr != "":
			if err == nil || errors.Is(err, errHelp) || !strings.Contains(stderr.String(), tt.wantErr) || !strings.HasSuffix(stderr.String(), "usage\n") {
				t.Errorf("%q: error %v, stderr %q; want %q and the usage", tt.args, err, stderr.String(), tt.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case strings.Join(seen, " ") != tt.want || !slices.Equal(rest, tt.rest):
			t.Errorf("%q: options %q, rest %q; want %q, %q", tt.args, strings.Join(seen, " "), rest, tt.want, tt.rest)
		}
	}
}

// TestRunUsage: the daemon's own options, as run reads them.
func TestRunUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "usage: mcast-proxy [-dnvV] [-f file] [-s socket]"},
		{[]string{"-x"}, exitConfig, "unknown option -x"},
		{[]string{"-d", "extra"}, exitConfig, `unexpected argument "extra"`},
		{[]string{"-nf", "/nonexistent/mcast-proxy.conf"}, exitConfig, "/nonexistent/mcast-proxy.conf"},
	} {
		var stderr bytes.Buffer
		if code := run(c.args, &stderr); code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
	var stderr bytes.Buffer
	run([]string{"-h"}, &stderr)
	for _, line := range []string{"  -f file     configuration file, native or UCI (told by its first word) (default /etc/mcast-proxy.conf)",
		"  -v          log at debug level too"} {
		if !strings.Contains(stderr.String(), line+"\n") {
			t.Errorf("usage lacks %q:\n%s", line, stderr.String())
		}
	}
}
