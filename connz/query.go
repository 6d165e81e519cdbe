package connz

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/connwatch/connwatch/trackedconn"
)

// query is a request's parsed query parameters.
type query struct {
	format   string // "html", "json" or "text"
	sort     string // "age", "idle", "bytes", "rtt" or "id"
	liveness string // "" for any
	name     string
	hasName  bool
	source   string
	hasSrc   bool
	id       uint64 // 0 for any (parseQuery rejects id=0): else the one conn shown
	limit    int
}

// keep reports whether the conn p of source src passes q's filters.
func (q *query) keep(src string, p trackedconn.Probed) bool {
	switch {
	case q.id != 0 && p.State.ID != q.id,
		q.liveness != "" && p.Liveness.String() != q.liveness,
		q.hasName && p.State.Name != q.name,
		q.hasSrc && src != q.source:
		return false
	}
	return true
}

// values returns q as query parameters, without the defaults.
func (q *query) values() url.Values {
	v := url.Values{}
	if q.sort != "age" {
		v.Set("sort", q.sort)
	}
	if q.liveness != "" {
		v.Set("liveness", q.liveness)
	}
	if q.hasName {
		v.Set("name", q.name)
	}
	if q.hasSrc {
		v.Set("source", q.source)
	}
	if q.limit != DefaultLimit {
		v.Set("limit", strconv.Itoa(q.limit))
	}
	return v
}

var (
	formats   = []string{"html", "json", "text"}
	sortKeys  = []string{"age", "idle", "bytes", "rtt", "id"}
	livenesss = func() []string {
		var names []string
		for l := trackedconn.LivenessUnknown; l <= trackedconn.LivenessStalled; l++ {
			names = append(names, l.String())
		}
		return names
	}()
)

// parseQuery parses and checks the query parameters v.
func parseQuery(v url.Values) (query, error) {
	q := query{format: "html", sort: "age", limit: DefaultLimit}
	for key, vals := range v {
		if len(vals) > 1 {
			return q, fmt.Errorf("connz: parameter %q given %d times", key, len(vals))
		}
		val := vals[0]
		var err error
		switch key {
		case "format":
			q.format, err = oneOf(key, val, formats)
		case "sort":
			q.sort, err = oneOf(key, val, sortKeys)
		case "liveness":
			q.liveness, err = oneOf(key, val, livenesss)
		case "name":
			q.name, q.hasName = val, true
		case "source":
			q.source, q.hasSrc = val, true
		case "id":
			q.id, err = strconv.ParseUint(val, 10, 64)
			if err != nil || q.id == 0 {
				err = fmt.Errorf("connz: id=%q: want a conn id (a positive integer)", val)
			}
		case "limit":
			q.limit, err = strconv.Atoi(val)
			if err != nil || q.limit < 1 {
				err = fmt.Errorf("connz: limit=%q: want a positive integer", val)
			}
		default:
			err = fmt.Errorf("connz: unknown parameter %q: want format, sort, liveness, name, source, id or limit", key)
		}
		if err != nil {
			return q, err
		}
	}
	return q, nil
}

// oneOf returns val if it is one of want.
func oneOf(key, val string, want []string) (string, error) {
	if slices.Contains(want, val) {
		return val, nil
	}
	return "", fmt.Errorf("connz: %s=%q: want one of %v", key, val, want)
}
