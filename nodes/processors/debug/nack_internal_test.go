package debug

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

func TestNackCause(t *testing.T) {
	tests := []struct {
		err       error
		cause     pdata.Cause
		permanent bool
	}{
		{engine.ErrFull, pdata.CauseRouteFull, false},
		{fmt.Errorf("port x: %w", engine.ErrClosed), pdata.CauseRouteClosed, false},
		{engine.ErrAborted, pdata.CauseNodeShutdown, false},
		{engine.ErrNoDefaultPort, pdata.CauseRouteClosed, true},
		{errors.New("other"), pdata.CauseUnspecified, false},
	}
	for _, tt := range tests {
		if c, p := nackCause(tt.err); c != tt.cause || p != tt.permanent {
			t.Errorf("nackCause(%v) = %v, %v; want %v, %v", tt.err, c, p, tt.cause, tt.permanent)
		}
	}
}
