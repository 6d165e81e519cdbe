#!/usr/bin/env bash
# bench.sh runs the benchmarks of the root module and of the nested benchmark
# modules (bench/*/go.mod) and compares raw vs tracked (and go-conntrack,
# where a benchmark has it).
#
# NAMING CONVENTION (the contract every benchmark follows)
#   A comparison is one Benchmark function with two sub-benchmarks whose last
#   (or any) name element is the key impl=raw and impl=tracked:
#
#     func BenchmarkPingPong(b *testing.B) {
#         b.Run("impl=raw", func(b *testing.B) { ... plain net.Conn ... })
#         b.Run("impl=tracked", func(b *testing.B) { ... trackedconn.Conn ... })
#     }
#
#   Further keys go before impl, e.g. BenchmarkRead/size=64/impl=raw. Run raw
#   first. impl=conntrack (github.com/mwitkow/go-conntrack, in the nested
#   module bench/conntrack only) is a third column. Benchmarks without an
#   impl key, and other impl values (e.g. impl=deadline-past), still run and
#   are listed separately; impl=interleaved ones report ratios of their own
#   (units ending in /raw), summarized in a table of their own.
#   The key=value form is what benchstat projects on: `-col /impl` puts raw and
#   tracked side by side with the delta. A benchmark that measures a ratio of
#   its own (interleaved rounds, see DESIGN.md) reports it with b.ReportMetric
#   and shows up in the tables below like any other unit.
#
# Environment:
#   COUNT      samples per benchmark (default 6; benchstat wants >= 6)
#   BENCH      -bench regex (default .)
#   PKG        packages of the root module (default ./...)
#   BENCHMODS  nested benchmark modules, run with ./... (default: every
#              directory under bench/ with a go.mod; set to "" to skip them)
#   BENCHTIME  -benchtime (default: go's 1s)
#   INTERLEAVE 1 (default): build each test binary once and run COUNT rounds of
#              -count=1, so raw and tracked alternate over time on a noisy
#              machine; 0: one `go test -count=COUNT` run per package set.
#   OUT        raw output file (default bench.out, gitignored)
#   GO         go command (default go)
#
# Output: bench.out (raw `go test -bench` text), a benchstat table of raw vs
# conntrack vs tracked, a table of tracked/raw ratios of the medians per pair
# and unit, which is what DESIGN.md's targets are stated in (ns/op and
# cpu-ns/B: lower is better, so the target is a ratio <= X; MB/s and other
# rates: ratio >= X), with the range of the per-round ratios (round i of raw
# against round i of tracked); the three-way table raw | go-conntrack |
# connwatch; and the interleaved benchmarks' own ratios (median and range
# over rounds).
set -euo pipefail

GO=${GO:-go}
COUNT=${COUNT:-6}
BENCH=${BENCH:-.}
PKG=${PKG:-./...}
BENCHTIME=${BENCHTIME:-}
INTERLEAVE=${INTERLEAVE:-1}
OUT=${OUT:-bench.out}
# Pinned; `go run pkg@version` keeps it out of go.mod.
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

cd "$(dirname "$0")/.."
root=$(pwd)
case $OUT in /*) ;; *) OUT="$root/$OUT" ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Packages (import path, dir and module dir) whose test files built for
# this platform declare a benchmark: PKG in the root module, ./... in each
# nested benchmark module.
if [ -z "${BENCHMODS+set}" ]; then
	BENCHMODS=$(find bench -name go.mod 2>/dev/null | sed 's|/go.mod$||' | LC_ALL=C sort | tr '\n' ' ')
fi
pkgs=()
dirs=()
mods=()
list_benchmarks() { # list_benchmarks MODDIR PATTERN...
	local mod=$1 listing pkg dir files
	shift
	# shellcheck disable=SC2016 # a go template, not shell.
	listing=$(cd "$root/$mod" && "$GO" list -e -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{$d := .Dir}}{{range .TestGoFiles}} {{$d}}/{{.}}{{end}}{{range .XTestGoFiles}} {{$d}}/{{.}}{{end}}{{"\n"}}{{end}}' "$@" 2>/dev/null || true)
	while read -r pkg dir files; do
		[ -n "$pkg" ] || continue
		# shellcheck disable=SC2086
		if grep -q -E '^func Benchmark[[:alnum:]_]*[[:space:]]*\(' $files; then
			pkgs+=("$pkg")
			dirs+=("$dir")
			mods+=("$mod")
		fi
	done <<<"$listing"
}
# shellcheck disable=SC2086 # PKG may name several patterns.
list_benchmarks . $PKG
for m in $BENCHMODS; do
	list_benchmarks "$m" ./...
done

if [ ${#pkgs[@]} -eq 0 ]; then
	echo "bench: no benchmarks in $PKG yet, nothing to do"
	exit 0
fi

: >"$OUT"
benchtime=()
[ -z "$BENCHTIME" ] || benchtime=("-test.benchtime=$BENCHTIME")

if [ "$INTERLEAVE" = 1 ]; then
	echo "==> bench: building ${#pkgs[@]} test binar$([ ${#pkgs[@]} = 1 ] && echo y || echo ies)"
	for i in "${!pkgs[@]}"; do
		(cd "$root/${mods[$i]}" && "$GO" test -c -o "$tmp/$i.test" "${pkgs[$i]}") || { echo "bench: FAIL: building tests of ${pkgs[$i]}" >&2; exit 1; }
	done
	for ((r = 1; r <= COUNT; r++)); do
		for i in "${!pkgs[@]}"; do
			[ -x "$tmp/$i.test" ] || continue # a package whose tests are all build-tagged off
			echo "==> bench: round $r/$COUNT ${pkgs[$i]} -bench '$BENCH'"
			if ! (cd "${dirs[$i]}" && "$tmp/$i.test" -test.run='^$' -test.bench="$BENCH" -test.benchmem -test.count=1 "${benchtime[@]}") >"$tmp/round.out" 2>&1; then
				cat "$tmp/round.out"
				echo "bench: FAIL: benchmarks of ${pkgs[$i]} (round $r)" >&2
				exit 1
			fi
			cat "$tmp/round.out" >>"$OUT"
		done
	done
else
	: >"$OUT"
	for m in . $BENCHMODS; do
		mp=()
		for i in "${!pkgs[@]}"; do [ "${mods[$i]}" != "$m" ] || mp+=("${pkgs[$i]}"); done
		[ ${#mp[@]} -gt 0 ] || continue
		echo "==> bench: [$m] $GO test -run='^\$' -bench='$BENCH' -benchmem -count=$COUNT ${BENCHTIME:+-benchtime=$BENCHTIME }${mp[*]}"
		(cd "$root/$m" && "$GO" test -run='^$' -bench="$BENCH" -benchmem -count="$COUNT" ${BENCHTIME:+-benchtime="$BENCHTIME"} "${mp[@]}") >"$tmp/mod.out" 2>&1 || {
			cat "$tmp/mod.out"
			echo "bench: FAIL: go test -bench in $m" >&2
			exit 1
		}
		cat "$tmp/mod.out" >>"$OUT"
	done
fi
echo "==> bench: raw output in ${OUT#"$root"/}"

if ! grep -q '^Benchmark' "$OUT"; then
	echo "bench: no benchmark matched -bench '$BENCH'"
	exit 0
fi

# benchstat: raw, conntrack and tracked side by side, in that order, with
# the deltas.
echo
echo "==> benchstat -col '/impl@(raw conntrack tracked)'"
outdir=$(dirname "$OUT")
outfile=$(basename "$OUT")
if (cd "$outdir" && "$GO" run "$BENCHSTAT" -col '/impl@(raw conntrack tracked)' "$outfile") >"$tmp/stat.out" 2>"$tmp/stat.err"; then
	cat "$tmp/stat.out"
	if grep '^Benchmark' "$OUT" | grep -v -q -E '/impl=(raw|conntrack|tracked)(/|-[0-9]+[[:space:]]|[[:space:]])'; then
		echo
		echo "==> benchstat (benchmarks without an impl=raw/conntrack/tracked key)"
		(cd "$outdir" && "$GO" run "$BENCHSTAT" -filter '-/impl:(raw OR conntrack OR tracked)' "$outfile") || true
	fi
else
	echo "bench: benchstat unavailable ($(tail -n 1 "$tmp/stat.err")); raw output follows"
	cat "$OUT"
fi

# Ratios of medians, per pair and unit: what DESIGN.md's targets are read
# off; then the three-way table; then the interleaved benchmarks' ratios.
awk '
function median(k, n,    i, j, v, a) {
	for (i = 1; i <= n; i++) a[i] = vals[k, i] + 0
	for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j > 0 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function num(x) { return (x == int(x)) ? sprintf("%d", x) : (x >= 100 ? sprintf("%.1f", x) : sprintf("%.4g", x)) }
function med(pair, unit, impl,    k) { k = pair SUBSEP unit SUBSEP impl; return (cnt[k] > 0) ? median(k, cnt[k]) : "" }
# spread: the range of the per-round ratios impl/raw (round i against round i).
function spread(pair, unit, impl,    kr, kt, n, i, r, lo, hi) {
	kr = pair SUBSEP unit SUBSEP "raw"; kt = pair SUBSEP unit SUBSEP impl
	n = (cnt[kr] < cnt[kt]) ? cnt[kr] : cnt[kt]
	if (n < 2) return ""
	for (i = 1; i <= n; i++) {
		if (vals[kr, i] + 0 <= 0) return ""
		r = vals[kt, i] / vals[kr, i]
		if (i == 1 || r < lo) lo = r
		if (i == 1 || r > hi) hi = r
	}
	return sprintf("%.3f-%.3f", lo, hi)
}
function ratio(a, b) { return (a != "" && b != "" && a > 0) ? sprintf("%.3f", b / a) : "-" }
/^pkg: / { pkg = $2; n = split(pkg, pp, "/"); short = pp[n]; next }
/^Benchmark/ && NF >= 4 && $2 ~ /^[0-9]+$/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	np = split(name, parts, "/"); impl = ""; base = ""
	for (i = 1; i <= np; i++) {
		if (parts[i] ~ /^impl=/) { impl = substr(parts[i], 6); continue }
		base = base (base == "" ? "" : "/") parts[i]
	}
	pair = (short == "" ? "" : short ".") base
	if (impl == "interleaved" || impl == "") {
		# Ratios a benchmark measured itself (units ending in /raw).
		nr = 0
		for (i = 3; i + 1 <= NF; i += 2) {
			unit = $(i + 1)
			if (unit !~ /\/raw$/) continue
			nr++
			if (!((pair, unit) in iseen)) { iseen[pair, unit] = 1; iorder[++ni] = pair SUBSEP unit; if (length(pair) > iw) iw = length(pair) }
			k = pair SUBSEP unit SUBSEP "i"
			vals[k, ++cnt[k]] = $i
		}
		if (nr == 0 && impl == "") unpaired++
		next
	}
	if (impl != "raw" && impl != "tracked" && impl != "conntrack") { unpaired++; next }
	if (!(pair in seen)) { seen[pair] = 1; order[++npairs] = pair; if (length(pair) > w) w = length(pair) }
	if (impl == "conntrack") three[pair] = 1
	for (i = 3; i + 1 <= NF; i += 2) {
		unit = $(i + 1)
		if (!((pair, unit) in useen)) { useen[pair, unit] = 1; units[pair, ++nunits[pair]] = unit }
		k = pair SUBSEP unit SUBSEP impl
		vals[k, ++cnt[k]] = $i
	}
}
END {
	if (npairs == 0) { print "\n(no impl=raw / impl=tracked pairs)"; exit }
	if (w < 4) w = 4
	print ""
	print "==> tracked/raw ratio of medians (ns/op, cpu-ns/B, B/op: lower is better; MB/s and rates: higher is better);"
	print "    per-round: the range of round i tracked / round i raw"
	fmt = "%-" w "s  %-13s %14s %14s %12s %13s  %s\n"
	printf fmt, "pair", "unit", "raw", "tracked", "tracked/raw", "per-round", "n"
	for (p = 1; p <= npairs; p++) {
		pair = order[p]
		for (u = 1; u <= nunits[pair]; u++) {
			unit = units[pair, u]
			r = med(pair, unit, "raw"); t = med(pair, unit, "tracked")
			if (t == "") continue
			sp = spread(pair, unit, "tracked")
			printf fmt, (u == 1 ? pair : ""), unit, (r == "" ? "-" : num(r)), num(t), ratio(r, t), (sp == "" ? "-" : sp), (cnt[pair SUBSEP unit SUBSEP "raw"] + 0) "/" (cnt[pair SUBSEP unit SUBSEP "tracked"] + 0)
		}
	}
	if (length(three) > 0) {
		print ""
		print "==> raw vs go-conntrack vs connwatch (medians; ratios to raw; per-round ranges)"
		fmt3 = "%-" w "s  %-13s %12s %12s %12s %10s %10s %13s %13s  %s\n"
		printf fmt3, "pair", "unit", "raw", "conntrack", "connwatch", "ct/raw", "cw/raw", "ct per-round", "cw per-round", "n"
		for (p = 1; p <= npairs; p++) {
			pair = order[p]
			if (!(pair in three)) continue
			first = 1
			for (u = 1; u <= nunits[pair]; u++) {
				unit = units[pair, u]
				r = med(pair, unit, "raw"); c = med(pair, unit, "conntrack"); t = med(pair, unit, "tracked")
				spc = spread(pair, unit, "conntrack"); spt = spread(pair, unit, "tracked")
				printf fmt3, (first ? pair : ""), unit, (r == "" ? "-" : num(r)), (c == "" ? "-" : num(c)), (t == "" ? "-" : num(t)), ratio(r, c), ratio(r, t), (spc == "" ? "-" : spc), (spt == "" ? "-" : spt), (cnt[pair SUBSEP unit SUBSEP "raw"] + 0) "/" (cnt[pair SUBSEP unit SUBSEP "conntrack"] + 0) "/" (cnt[pair SUBSEP unit SUBSEP "tracked"] + 0)
				first = 0
			}
		}
	}
	if (ni > 0) {
		if (iw < 4) iw = 4
		print ""
		print "==> ratios the benchmarks measure themselves (interleaved rounds): median per-round ratio inside each run; median and range over runs"
		fmti = "%-" iw "s  %-18s %8s %17s  %s\n"
		printf fmti, "pair", "ratio", "median", "range", "runs"
		last = ""
		for (q = 1; q <= ni; q++) {
			split(iorder[q], pu, SUBSEP)
			k = iorder[q] SUBSEP "i"; n = cnt[k]
			lo = hi = vals[k, 1] + 0
			for (i = 2; i <= n; i++) { v = vals[k, i] + 0; if (v < lo) lo = v; if (v > hi) hi = v }
			printf fmti, (pu[1] == last ? "" : pu[1]), pu[2], sprintf("%.3f", median(k, n)), sprintf("%.3f-%.3f", lo, hi), n
			last = pu[1]
		}
	}
	if (unpaired) printf "(%d result lines with another impl or none are not in these tables)\n", unpaired
}' "$OUT"
