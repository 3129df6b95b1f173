package main

import (
	"errors"
	"io"
	"strings"
)

// The command line is read as getopt(3) reads it, the way the manual page's
// synopsis spells it: one-letter options, switches that may be grouped
// ("-dv", "-vv"), an option's argument attached or in the next word ("-ffile",
// "-f file"), "--" ending the options. Go's flag package, which read it
// before, took neither groups nor attached arguments, and with what it
// links (reflection to print defaults) cost the linux/mips binary 52 KB.
// The forms flag accepted that scripts use keep working: "-f=file",
// "-help" and "--help".

// option is one command-line option.
type option struct {
	letter byte
	arg    string // the argument's name in the usage text; "" for a switch
	usage  string
	// set receives the argument; a switch's is "" and comes once per use.
	set func(string)
	def string // the default shown in the usage text, if any
}

// errHelp is what parseOptions returns for -h: usage was printed.
var errHelp = errors.New("help requested")

// parseOptions reads args with opts and returns the words after the
// options. On an error it writes the reason and usage to stderr.
func parseOptions(opts []option, args []string, stderr io.Writer, usage func()) ([]string, error) {
	fail := func(msg string) ([]string, error) {
		io.WriteString(stderr, "mcast-proxy: "+msg+"\n")
		usage()
		return nil, errors.New(msg)
	}
	for len(args) > 0 {
		word := args[0]
		if word == "--" {
			return args[1:], nil
		}
		if len(word) < 2 || word[0] != '-' {
			return args, nil
		}
		args = args[1:]
		if word == "-help" || word == "--help" {
			usage()
			return nil, errHelp
		}
		for i := 1; i < len(word); i++ {
			c := word[i]
			if c == 'h' {
				usage()
				return nil, errHelp
			}
			o := findOption(opts, c)
			if o == nil {
				return fail("unknown option -" + string(c))
			}
			if o.arg == "" {
				o.set("")
				continue
			}
			value := strings.TrimPrefix(word[i+1:], "=")
			if i+1 == len(word) {
				if len(args) == 0 {
					return fail("option -" + string(c) + " needs an argument (" + o.arg + ")")
				}
				value, args = args[0], args[1:]
			}
			o.set(value)
			break
		}
	}
	return nil, nil
}

func findOption(opts []option, c byte) *option {
	for i := range opts {
		if opts[i].letter == c {
			return &opts[i]
		}
	}
	return nil
}

// printOptions writes one line per option, as the usage text's table.
func printOptions(w io.Writer, opts []option) {
	var b []byte
	for _, o := range opts {
		b = append(b, ' ', ' ', '-', o.letter)
		n := 2
		if o.arg != "" {
			b = append(b, ' ')
			b = append(b, o.arg...)
			n += 1 + len(o.arg)
		}
		for ; n < 12; n++ {
			b = append(b, ' ')
		}
		b = append(b, o.usage...)
		if o.def != "" {
			b = append(b, " (default "+o.def+")"...)
		}
		b = append(b, '\n')
	}
	w.Write(b)
}
