// Command callgate is the telephony edge: one binary that serves SIP trunks, the agent
// page and the business API. With no arguments it serves the built-in demo config.
//
//	callgate                       serve the built-in default config
//	callgate serve --config FILE   serve FILE
//	callgate check --config FILE   validate FILE and print what it defines
//	callgate cert --out DIR        write a self-signed certificate for development
//	callgate version               print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// notifyReload delivers SIGHUP, which asks a serving callgate to reload its config
// (reload.go) instead of ending the process; stop restores the default.
func notifyReload() (hup <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// run executes one command line and returns the process exit code: 0 on success, 1 on
// failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCmd(ctx, args, stdout, stderr)
	case "check":
		return checkCmd(args, stdout, stderr)
	case "cert":
		return certCmd(args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "callgate %s\n", version)
		return 0
	case "help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "callgate: unknown command %q\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  callgate                       serve the built-in default config (a demo on loopback)
  callgate serve [--config FILE] [--cpuprofile FILE]
                                 serve FILE (default: the built-in config)
  callgate check --config FILE   validate FILE; print file:line errors or a summary
  callgate cert --out DIR [--host localhost,127.0.0.1,::1] [--days 90] [--force]
                                 write DIR/cert.pem and DIR/key.pem (0600): a self-signed
                                 ECDSA P-256 certificate for those hosts, for development
                                 (web.public.tls / web.internal.tls in the config)
  callgate version               print the version
`)
}

// cmdFlags are the flags of serve and check.
type cmdFlags struct {
	config     string
	cpuProfile string // serve: write a CPU profile here until shutdown
}

// parseFlags parses a subcommand's flags.
func parseFlags(name string, args []string, stderr io.Writer) (cmdFlags, int, bool) {
	var f cmdFlags
	fs := flag.NewFlagSet("callgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "config file (YAML)")
	if name == "serve" {
		fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) to this file until shutdown")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, 0, false
		}
		return f, 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callgate %s: unexpected argument %q\n", name, fs.Arg(0))
		return f, 2, false
	}
	return f, 0, true
}
