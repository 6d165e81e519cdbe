// Package mptcptest makes MPTCP connections over loopback for the tests of
// connwatch's packages, and waits for what poll reports on them. It is
// Linux only.
package mptcptest
