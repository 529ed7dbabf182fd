package wal

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ackflow/ackflow/clock"
)

// FuzzRecover writes arbitrary bytes as the only segment file and as the
// ledger. Open must not fail or panic, must never return a record that
// fails its CRC, and must either recover the segment or quarantine it.
// Seeds: testdata/fuzz/FuzzRecover and the real files made below. Fuzz on
// tmpfs, where fsync is free: TMPDIR=/dev/shm go test -fuzz FuzzRecover.
func FuzzRecover(f *testing.F) {
	tmpl, seg := closedLog(f, 4)
	segBytes, _ := os.ReadFile(seg)
	ledger, _ := os.ReadFile(filepath.Join(tmpl, ledgerName))
	f.Add(segBytes, ledger)
	f.Add(segBytes[:len(segBytes)-3], []byte(nil))
	f.Add(segBytes[:segHeaderSize], ledger[:len(ledger)-1])

	f.Fuzz(checkRecover)
}

// checkRecover is FuzzRecover's property.
func checkRecover(t *testing.T, seg, ledger []byte) {
	{
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o640); err != nil {
			t.Fatal(err)
		}
		if len(ledger) > 0 {
			if err := os.WriteFile(filepath.Join(dir, ledgerName), ledger, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(Options{Dir: dir, Durability: Write, Clock: clock.NewFake(t0)})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		want, headerOK := validRecords(seg)
		r := l.NewReader()
		n, last := 0, Seq(0)
		for {
			seq, data, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if seq <= last || seq > Seq(len(want)) || string(data) != string(want[seq-1]) {
				t.Fatalf("Next = %d, %q: not the valid record of that number (%d valid)", seq, data, len(want))
			}
			n, last = n+1, seq
		}
		r.Close()
		if len(ledger) == 0 && n != len(want) {
			t.Fatalf("read %d records, want all %d valid ones", n, len(want))
		}
		st := l.Stats()
		switch {
		case headerOK && st.QuarantinedSegments != 0:
			t.Fatalf("a segment with a valid header was quarantined")
		case !headerOK && !isZero(seg) && st.QuarantinedSegments != 1:
			t.Fatalf("a segment with a bad header was not quarantined: %+v", st)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// validRecords is an independent reading of the format in doc.go: the
// payloads of the valid frames before the first invalid one, and whether
// the header (of segment 1) is valid.
func validRecords(seg []byte) ([][]byte, bool) {
	le := binary.LittleEndian
	tab := crc32.MakeTable(crc32.Castagnoli)
	if len(seg) < 32 || string(seg[:8]) != "AFWALSEG" || le.Uint64(seg[8:16]) != 1 ||
		le.Uint16(seg[24:26]) != 1 || crc32.Checksum(seg[:28], tab) != le.Uint32(seg[28:32]) {
		return nil, false
	}
	var recs [][]byte
	off := 32
	for seq := uint64(1); off+8 <= len(seg); seq++ {
		n := int(le.Uint32(seg[off:]))
		size := 8 + n + (8-n%8)%8
		if n > len(seg) || off+size > len(seg) {
			break
		}
		var pre [12]byte
		le.PutUint32(pre[0:4], uint32(n))
		le.PutUint64(pre[4:12], seq)
		payload := seg[off+8 : off+8+n]
		if crc32.Update(crc32.Checksum(pre[:], tab), tab, payload) != le.Uint32(seg[off+4:]) {
			break
		}
		recs = append(recs, payload)
		off += size
	}
	return recs, true
}
