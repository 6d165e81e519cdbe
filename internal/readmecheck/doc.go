// Package readmecheck holds the tests that keep README.md honest: every Go
// snippet in it is code that `make test` compiles, and what it says about
// unsafe and go:linkname holds. It has no API.
package readmecheck
