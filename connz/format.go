package connz

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

func addr(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// flags names the flags set in s, Closed first, never nil.
func flags(s *trackedconn.State) []string {
	if !s.Closed {
		return hooks.Flags(*s)
	}
	return append([]string{"closed"}, hooks.Flags(*s)...)
}

// dur formats d for people: milliseconds under a second, tenths under a
// minute, then seconds, then minutes.
func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
}

// rttString formats a round-trip time to the microsecond.
func rttString(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

// size formats n bytes with a binary unit.
func size[T int64 | uint64](n T) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(int64(n), 10) + " B"
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f < 10 {
		return fmt.Sprintf("%.1f %ciB", f, units[i])
	}
	return fmt.Sprintf("%.0f %ciB", f, units[i])
}

// plain makes s safe for one cell of the text format: an empty value reads
// "-", and a value with spaces, control or other invisible characters is
// quoted with Go escapes, so that a name cannot break the columns or the
// terminal.
func plain(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' {
			return strconv.Quote(s)
		}
	}
	return s
}
