package trackedconn_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/connwatch/connwatch/trackedconn"
)

func TestContextCarriesConn(t *testing.T) {
	c := trackedconn.Wrap(nopConn{})
	ctx := trackedconn.NewContext(context.Background(), c)
	got, ok := trackedconn.FromContext(ctx)
	assert.True(t, ok, "FromContext ok")
	assert.Same(t, c, got, "FromContext")
	_, ok = trackedconn.FromContext(context.Background())
	assert.False(t, ok, "FromContext of a bare context")
	_, ok = trackedconn.FromContext(trackedconn.NewContext(context.Background(), nil))
	assert.False(t, ok, "FromContext of a nil conn")
}
