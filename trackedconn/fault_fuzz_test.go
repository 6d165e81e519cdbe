package trackedconn_test

import (
	"math/rand/v2"
	"testing"
)

// fuzzMaxSteps bounds the steps of one input: longer schedules find little
// more and make the fuzzer's minimization crawl.
const fuzzMaxSteps = 64

// FuzzStateMachine decodes its input as a schedule of operations and faults
// on a faultconn.Conn (one byte per choice, see genFaultStep) and checks the
// tracked conn against the model after every step, as TestFaultSchedules
// does with random schedules.
func FuzzStateMachine(f *testing.F) {
	// Read hits a deadline, CloseWrite succeeds, Close: Cause timeout (a
	// successful half-close used to clear TimedOut).
	f.Add([]byte{0, 8, 12, 6, 1, 1, 66, 1, 1, 58, 1, 1})
	// Read gets io.EOF, CloseWrite (IsClosed), Read gets ECONNRESET, Close:
	// Cause peer.
	f.Add([]byte{0, 8, 12, 0, 1, 1, 66, 1, 1, 0, 8, 12, 3, 1, 1, 58, 1, 1})
	// A Read blocked on a gate while Close runs and a second Close returns.
	f.Add([]byte{0, 8, 12, 0, 1, 0, 2, 58, 1, 58, 1})
	// Random schedules, recorded choice by choice.
	for seed := range uint64(8) {
		rec := &recordSource{src: randSource{rand.New(rand.NewPCG(seed, seed))}}
		for range faultSteps {
			genFaultStep(rec, true)
		}
		f.Add(rec.out)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fg := new(faultGroup)
		src := &byteSource{b: data}
		if _, err := runFaultSchedule(fg, src, false, fuzzMaxSteps, src.exhausted); err != nil {
			t.Fatal(err)
		}
		if err := finishBatch(fg); err != nil {
			t.Fatal(err)
		}
	})
}

// recordSource records the choices of src as the bytes that make a
// byteSource repeat them (every choice is below 256).
type recordSource struct {
	src faultSource
	out []byte
}

func (r *recordSource) intn(n int) int {
	v := r.src.intn(n)
	r.out = append(r.out, byte(v))
	return v
}
