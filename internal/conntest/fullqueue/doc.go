// Package fullqueue gives tests a loopback listener whose accept queue is
// full, so that a dial to it waits until its deadline without leaving
// loopback. It relies on Linux dropping the SYNs for a full queue, and so
// builds its listener on Linux only.
//
// It is apart from package conntest, and imports nothing of this module,
// so that the in-package tests of internal/errclass can use it: conntest
// imports trackedconn, which imports errclass.
package fullqueue
