// Package browsertest drives headless Chromium (with chromedp) against a
// live connz.Handler over real loopback conns: the page renders, its rows
// match the JSON, the sort and filter links and the per-conn view work,
// and a hostile conn name shows as text. It is a module of its own so that
// the core module does not depend on chromedp.
//
// The test needs Debian's chromium (/usr/bin/chromium, or $CHROMIUM). In CI
// (CI=true) a missing browser fails the test; elsewhere it skips. It leaves
// screenshots of the page, 1280 px wide, in build/ at the root of the
// repository (or in $CONNZ_SCREENSHOTS): connz.png, and connz-conn.png for
// the per-conn view of the stalled conn. Where the test can make a private
// network namespace (as root on Linux), one conn's peer vanishes in it, and
// the page shows that conn stalled.
package browsertest
