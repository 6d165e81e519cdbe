//go:build plan9

package errclass

// errnoCases are the system errors of this OS with their classes.
func errnoCases() []classCase { return nil }
