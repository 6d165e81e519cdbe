// Command connwatch shows what connwatch knows about connections.
//
// Usage:
//
//	connwatch demo [-json]
//	connwatch proxy -to HOST:PORT [-listen ADDR] [-debug ADDR] [flags]
//	connwatch help
//
// demo runs every way a conn ends (local close, peer close, half-close,
// reset, timeout, leak) and every Probe answer between a tracked server and
// a tracked client on the loopback interface, and prints what connwatch
// recorded. proxy is a TCP proxy that logs each connection pair's
// lifecycle: who closed first, why, and the bytes each way.
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

const usage = `connwatch shows who closed a connection, and why.

Usage:

  connwatch demo [-json]
      Run every way a conn ends (local close, peer close, half-close, reset,
      timeout, leak) and every Probe answer between a tracked server and a
      tracked client on 127.0.0.1, and print what connwatch recorded.

  connwatch proxy -to HOST:PORT [-listen ADDR] [-debug ADDR] [flags]
      Forward TCP from -listen to -to and log each connection pair: open,
      half-closes, who closed first, the cause on each side, bytes each way.
      Run 'connwatch proxy -h' for its flags.

  connwatch help
      Print this text.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command with args (without the program name) and returns the
// exit code: 0 on success, 1 when the work failed, 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "demo":
		return runDemo(rest, stdout, stderr)
	case vanishCmd: // hidden: the demo's vanished-peer scenario, in a private network namespace
		return runVanish(stdout, stderr)
	case "proxy":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// After the first signal, a second one ends the process at once.
		context.AfterFunc(ctx, stop)
		return runProxy(ctx, rest, stdout, stderr, nil)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "connwatch: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// parseFlags parses args with fs. On -h it prints the usage to stdout; on a
// bad flag or a stray argument it prints one line to stderr. ok is false
// when the command must return code at once.
func parseFlags(fs *flag.FlagSet, synopsis, about string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
		return 0, false
	case err != nil:
		return usageError(stderr, fs.Name(), err.Error()), false
	case fs.NArg() > 0:
		return usageError(stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", fs.Arg(0))), false
	}
	return 0, true
}

// usageError prints a one-line usage error for cmd and returns exit code 2.
func usageError(stderr io.Writer, cmd, msg string) int {
	fmt.Fprintf(stderr, "%s: %s (run '%s -h' for usage)\n", cmd, msg, cmd)
	return 2
}
