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
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		done := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			watchSignals(sigs, done, cancel, stderr, os.Exit)
		}()
		defer func() {
			signal.Stop(sigs)
			close(done)
			<-watched
		}()
		return runProxy(ctx, rest, stdout, stderr, nil)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "connwatch: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// watchSignals cancels the proxy's context at the first signal from sigs
// and calls exit at the second, until done is closed. The second signal
// ends the process whatever the signal's disposition was at start:
// signal.Stop would restore an ignored SIGINT (a background job's) and
// leave the second one ignored, so the channel stays subscribed.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel func(), stderr io.Writer, exit func(int)) {
	select {
	case <-sigs:
		cancel()
	case <-done:
		return
	}
	select {
	case sig := <-sigs:
		fmt.Fprintf(stderr, "connwatch proxy: second %v: exiting at once\n", sig)
		exit(exitCode(sig))
	case <-done:
	}
}

// exitCode returns the shell's exit status for a process killed by sig:
// 128 plus the signal number.
func exitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
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
