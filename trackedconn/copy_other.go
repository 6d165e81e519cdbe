//go:build !linux

package trackedconn

// kernelCopy reports that it handled nothing: only Linux has splice(2),
// and the standard library's sendfile paths (reached through the inner
// conn's ReadFrom) serve the other systems.
func kernelCopy(dst, src any, to, from *core, limit int64) (n int64, eof, handled bool, rerr, werr error) {
	return 0, false, false, nil, nil
}
