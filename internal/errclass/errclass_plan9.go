//go:build plan9

package errclass

// errnoClasses is empty on Plan 9, whose system errors are strings.
var errnoClasses = [...]errnoClass{}
