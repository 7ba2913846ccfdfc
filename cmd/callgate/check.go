package main

import (
	"fmt"
	"io"

	"callgate/configs"
)

// checkCmd validates a config file: every problem as file:line: message and exit 1, or
// a summary of what the file defines and exit 0.
func checkCmd(args []string, stdout, stderr io.Writer) int {
	f, code, ok := parseFlags("check", args, stderr)
	if !ok {
		return code
	}
	path := f.config
	if path == "" {
		fmt.Fprintln(stderr, "callgate check: --config FILE is required")
		return 2
	}
	cfg, err := configs.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n%s", path, configs.Summary(cfg))
	return 0
}
