//go:build !unix

package main

// fdLimit reports false: there is no descriptor limit to read (Windows
// bounds handles by memory).
func fdLimit() (uint64, bool) { return 0, false }
