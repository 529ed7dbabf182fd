package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// The ledger file (see doc.go): | magic [8] | version u32 | count u32 |
// next u64 | low u64 | count × (start u64, end u64) | crc32c u32 | pad u32 |.
const (
	ledgerName    = "LEDGER"
	ledgerMagic   = "AFWALLDG"
	ledgerVersion = 1
	ledgerFixed   = 40 // everything but the intervals
	maxLedgerSize = 256 << 20
)

// ledger is the persisted progress: the done set and the next sequence
// number, which must never go back even when every segment is deleted.
type ledger struct {
	next Seq
	done doneSet
}

func encodeLedger(next Seq, d *doneSet) []byte {
	b := make([]byte, 32, ledgerFixed+16*len(d.iv))
	copy(b, ledgerMagic)
	binary.LittleEndian.PutUint32(b[8:12], ledgerVersion)
	binary.LittleEndian.PutUint32(b[12:16], uint32(len(d.iv)))
	binary.LittleEndian.PutUint64(b[16:24], uint64(next))
	binary.LittleEndian.PutUint64(b[24:32], uint64(d.low))
	for _, iv := range d.iv {
		b = binary.LittleEndian.AppendUint64(b, uint64(iv.start))
		b = binary.LittleEndian.AppendUint64(b, uint64(iv.end))
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, 0, 0, 0, 0)
}

// decodeLedger parses and checks a ledger file's bytes, or says what is
// wrong with them. Any doubt is an error: the caller then assumes nothing
// is done.
func decodeLedger(b []byte) (ledger, error) {
	bad := func(format string, a ...any) (ledger, error) {
		return ledger{}, fmt.Errorf(format, a...)
	}
	if len(b) < ledgerFixed || (len(b)-ledgerFixed)%16 != 0 {
		return bad("size %d is not 40 + 16*n bytes", len(b))
	}
	body := b[:len(b)-8]
	if string(b[:8]) != ledgerMagic {
		return bad("bad magic %q", b[:8])
	}
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(b[len(b)-8:]); got != want {
		return bad("crc32c mismatch (stored %08x, computed %08x)", want, got)
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != ledgerVersion {
		return bad("unsupported version %d", v)
	}
	n := int(binary.LittleEndian.Uint32(b[12:16]))
	if n != (len(b)-ledgerFixed)/16 {
		return bad("interval count %d does not match size %d", n, len(b))
	}
	l := ledger{next: Seq(binary.LittleEndian.Uint64(b[16:24]))}
	l.done.low = Seq(binary.LittleEndian.Uint64(b[24:32]))
	if l.next > maxSeq || l.done.low > l.next {
		return bad("low watermark %d and next seq %d out of range", l.done.low, l.next)
	}
	prev := l.done.low
	for i := range n {
		p := body[32+16*i:]
		iv := interval{Seq(binary.LittleEndian.Uint64(p[0:8])), Seq(binary.LittleEndian.Uint64(p[8:16]))}
		if iv.start <= prev || iv.end <= iv.start || iv.end > l.next {
			return bad("interval %d [%d, %d) is out of order or range", i, iv.start, iv.end)
		}
		l.done.iv = append(l.done.iv, iv)
		prev = iv.end
	}
	return l, nil
}

// readLedger loads dir's ledger. A missing ledger is a fresh log, not an
// error; a damaged one is ErrCorrupt.
func readLedger(dir string) (ledger, bool, error) {
	path := filepath.Join(dir, ledgerName)
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return ledger{}, false, nil
	}
	if err == nil && fi.Size() > maxLedgerSize {
		return ledger{}, true, fmt.Errorf("%w: ledger %s: %d bytes is more than a ledger can be", ErrCorrupt, path, fi.Size())
	}
	var b []byte
	if err == nil {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return ledger{}, true, ioError("read", path, err)
	}
	l, err := decodeLedger(b)
	if err != nil {
		return ledger{}, true, fmt.Errorf("%w: ledger %s: %v", ErrCorrupt, path, err)
	}
	return l, true, nil
}

// writeFileAtomic replaces dir/name with data: it writes name.tmp, fsyncs
// it, renames it over name and fsyncs dir. A crash leaves the old or the
// new file, never a mix.
func writeFileAtomic(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return ioError("create", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return ioError("write", path, err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that creations, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return ioError("open directory", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ioError("fsync directory", dir, err)
	}
	return nil
}
