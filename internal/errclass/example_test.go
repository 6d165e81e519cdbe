package errclass_test

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/connwatch/connwatch/internal/errclass"
)

func ExampleClassify() {
	a, b := net.Pipe()
	b.Close()
	_, err := a.Read(make([]byte, 1))
	fmt.Println(errclass.Classify(err)) // the peer closed

	a.Close()
	_, err = a.Read(make([]byte, 1))
	fmt.Println(errclass.Classify(err)) // we closed

	err = fmt.Errorf("fetch: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})
	fmt.Println(errclass.Classify(err))

	err = &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	fmt.Println(errclass.Classify(err)) // a dial's deadline comes from its context

	fmt.Println(errclass.Classify(context.Canceled))
	fmt.Println(errclass.Classify(nil))
	// Output:
	// eof
	// closed
	// deadline
	// context-deadline
	// canceled
	// none
}
