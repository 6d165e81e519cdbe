#!/usr/bin/env bash
# bench.sh runs the benchmarks of the root module and compares raw vs tracked.
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
#   first. Benchmarks without an impl key, and other impl values (e.g.
#   impl=deadline-past), still run and are listed separately.
#   The key=value form is what benchstat projects on: `-col /impl` puts raw and
#   tracked side by side with the delta. A benchmark that measures a ratio of
#   its own (interleaved rounds, see DESIGN.md) reports it with b.ReportMetric
#   and shows up in the tables below like any other unit.
#
# Environment:
#   COUNT      samples per benchmark (default 6; benchstat wants >= 6)
#   BENCH      -bench regex (default .)
#   PKG        packages (default ./...)
#   BENCHTIME  -benchtime (default: go's 1s)
#   INTERLEAVE 1 (default): build each test binary once and run COUNT rounds of
#              -count=1, so raw and tracked alternate over time on a noisy
#              machine; 0: one `go test -count=COUNT` run per package set.
#   OUT        raw output file (default bench.out, gitignored)
#   GO         go command (default go)
#
# Output: bench.out (raw `go test -bench` text), a benchstat table of raw vs
# tracked, and a table of tracked/raw ratios of the medians per pair and unit,
# which is what DESIGN.md's targets are stated in (ns/op: lower is better, so
# the target is a ratio <= X; MB/s and other rates: ratio >= X).
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

# Packages (import path and dir) whose test files built for this platform
# declare a benchmark.
# shellcheck disable=SC2086 # PKG may name several patterns.
# shellcheck disable=SC2016 # a go template, not shell.
listing=$("$GO" list -e -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{$d := .Dir}}{{range .TestGoFiles}} {{$d}}/{{.}}{{end}}{{range .XTestGoFiles}} {{$d}}/{{.}}{{end}}{{"\n"}}{{end}}' $PKG 2>/dev/null || true)
pkgs=()
dirs=()
while read -r pkg dir files; do
	[ -n "$pkg" ] || continue
	# shellcheck disable=SC2086
	if grep -q -E '^func Benchmark[[:alnum:]_]*[[:space:]]*\(' $files; then
		pkgs+=("$pkg")
		dirs+=("$dir")
	fi
done <<<"$listing"

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
		"$GO" test -c -o "$tmp/$i.test" "${pkgs[$i]}" || { echo "bench: FAIL: building tests of ${pkgs[$i]}" >&2; exit 1; }
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
	echo "==> bench: $GO test -run='^\$' -bench='$BENCH' -benchmem -count=$COUNT ${BENCHTIME:+-benchtime=$BENCHTIME }${pkgs[*]}"
	"$GO" test -run='^$' -bench="$BENCH" -benchmem -count="$COUNT" ${BENCHTIME:+-benchtime="$BENCHTIME"} "${pkgs[@]}" >"$OUT" 2>&1 || {
		cat "$OUT"
		echo "bench: FAIL: go test -bench" >&2
		exit 1
	}
fi
echo "==> bench: raw output in ${OUT#"$root"/}"

if ! grep -q '^Benchmark' "$OUT"; then
	echo "bench: no benchmark matched -bench '$BENCH'"
	exit 0
fi

# benchstat: raw and tracked side by side, in that order, with the delta.
echo
echo "==> benchstat -col '/impl@(raw tracked)'"
outdir=$(dirname "$OUT")
outfile=$(basename "$OUT")
if (cd "$outdir" && "$GO" run "$BENCHSTAT" -col '/impl@(raw tracked)' "$outfile") >"$tmp/stat.out" 2>"$tmp/stat.err"; then
	cat "$tmp/stat.out"
	if grep '^Benchmark' "$OUT" | grep -v -q -E '/impl=(raw|tracked)(/|-[0-9]+[[:space:]]|[[:space:]])'; then
		echo
		echo "==> benchstat (benchmarks without an impl=raw/impl=tracked pair)"
		(cd "$outdir" && "$GO" run "$BENCHSTAT" -filter '-/impl:(raw OR tracked)' "$outfile") || true
	fi
else
	echo "bench: benchstat unavailable ($(tail -n 1 "$tmp/stat.err")); raw output follows"
	cat "$OUT"
fi

# Ratios of medians, per pair and unit: what DESIGN.md's targets are read off.
echo
echo "==> tracked/raw ratio of medians (ns/op: lower is better; MB/s and rates: higher is better)"
awk '
function median(k,    n, i, j, v, a) {
	n = cnt[k]
	for (i = 1; i <= n; i++) a[i] = vals[k, i] + 0
	for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j > 0 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function num(x) { return (x == int(x)) ? sprintf("%d", x) : (x >= 100 ? sprintf("%.1f", x) : sprintf("%.4g", x)) }
/^pkg: / { pkg = $2; n = split(pkg, pp, "/"); short = pp[n]; next }
/^Benchmark/ && NF >= 4 && $2 ~ /^[0-9]+$/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	np = split(name, parts, "/"); impl = ""; base = ""
	for (i = 1; i <= np; i++) {
		if (parts[i] ~ /^impl=/) { impl = substr(parts[i], 6); continue }
		base = base (base == "" ? "" : "/") parts[i]
	}
	if (impl != "raw" && impl != "tracked") { unpaired++; next }
	pair = (short == "" ? "" : short ".") base
	if (!(pair in seen)) { seen[pair] = 1; order[++npairs] = pair; if (length(pair) > w) w = length(pair) }
	for (i = 3; i + 1 <= NF; i += 2) {
		unit = $(i + 1)
		if (!((pair, unit) in useen)) { useen[pair, unit] = 1; units[pair, ++nunits[pair]] = unit }
		k = pair SUBSEP unit SUBSEP impl
		vals[k, ++cnt[k]] = $i
	}
}
END {
	if (npairs == 0) { print "(no impl=raw / impl=tracked pairs)"; exit }
	if (w < 4) w = 4
	fmt = "%-" w "s  %-12s %14s %14s %12s  %s\n"
	printf fmt, "pair", "unit", "raw", "tracked", "tracked/raw", "n"
	for (p = 1; p <= npairs; p++) {
		pair = order[p]
		for (u = 1; u <= nunits[pair]; u++) {
			unit = units[pair, u]
			kr = pair SUBSEP unit SUBSEP "raw"; kt = pair SUBSEP unit SUBSEP "tracked"
			r = (cnt[kr] > 0) ? median(kr) : ""; t = (cnt[kt] > 0) ? median(kt) : ""
			ratio = (r != "" && t != "" && r > 0) ? sprintf("%.3f", t / r) : "-"
			printf fmt, (u == 1 ? pair : ""), unit, (r == "" ? "-" : num(r)), (t == "" ? "-" : num(t)), ratio, (cnt[kr] + 0) "/" (cnt[kt] + 0)
		}
	}
	if (unpaired) printf "(%d result lines without impl=raw/impl=tracked are not in this table)\n", unpaired
}' "$OUT"
