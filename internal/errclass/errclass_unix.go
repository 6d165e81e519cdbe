//go:build !windows && !plan9

package errclass

import "syscall"

// errnoClasses maps Unix error numbers to classes, in check order.
var errnoClasses = [...]errnoClass{
	{Reset, []error{syscall.ECONNRESET, syscall.ECONNABORTED}},
	{BrokenPipe, []error{syscall.EPIPE}},
	{Refused, []error{syscall.ECONNREFUSED}},
	{Unreachable, []error{syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN}},
	{TimedOut, []error{syscall.ETIMEDOUT}},
}
