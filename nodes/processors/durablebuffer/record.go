package durablebuffer

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ackflow/ackflow/pdata"
)

// A stored record is a bundle: one payload as received, behind a header.
//
//	| version u8 = 1 | signal u8 | reserved u16 | items u32 | OTLP export request bytes |
//
// The header lets the buffer count what it holds and loses per signal
// without decoding the payload.
const (
	recordVersion    = 1
	recordHeaderSize = 8
)

// errRecord is returned for a record this build cannot read.
var errRecord = errors.New("durable_buffer: unreadable record")

// appendRecord encodes the payload of m as a record into dst.
func appendRecord(dst []byte, p *pdata.Payload) ([]byte, error) {
	var hdr [recordHeaderSize]byte
	hdr[0] = recordVersion
	hdr[1] = byte(p.Signal())
	binary.LittleEndian.PutUint32(hdr[4:], uint32(p.Items()))
	dst = append(dst, hdr[:]...)
	return p.AppendOTLP(dst)
}

// recordHeader is a decoded record header.
type recordHeader struct {
	signal pdata.Signal
	items  int
}

func readHeader(rec []byte) (recordHeader, error) {
	if len(rec) < recordHeaderSize || rec[0] != recordVersion {
		return recordHeader{}, fmt.Errorf("%w: bad header", errRecord)
	}
	s := pdata.Signal(rec[1])
	if !validSignal(s) {
		return recordHeader{}, fmt.Errorf("%w: unknown signal %d", errRecord, rec[1])
	}
	return recordHeader{signal: s, items: int(binary.LittleEndian.Uint32(rec[4:]))}, nil
}

// decodeRecord turns a record back into a payload sharing its bytes.
func decodeRecord(rec []byte) (*pdata.Payload, recordHeader, error) {
	h, err := readHeader(rec)
	if err != nil {
		return nil, h, err
	}
	return pdata.FromOTLPChunks(h.signal, [][]byte{rec[recordHeaderSize:]}, h.items), h, nil
}

func validSignal(s pdata.Signal) bool {
	for _, v := range pdata.Signals() {
		if s == v {
			return true
		}
	}
	return false
}
