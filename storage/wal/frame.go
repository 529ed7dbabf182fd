package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// MaxRecordSize is the largest payload Append accepts, in bytes.
const MaxRecordSize = 1 << 30

// frameHeaderSize is the size of | len u32 | crc32c u32 |.
const frameHeaderSize = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var zeros [8]byte

// pad8 returns the number of zero bytes that follow an n-byte payload so
// that the next frame starts on an 8-byte boundary.
func pad8(n int) int { return (8 - n%8) % 8 }

// frameSize returns the on-disk size of a record with an n-byte payload.
func frameSize(n int) int64 { return int64(frameHeaderSize + n + pad8(n)) }

// crcSeed returns the CRC of the bytes that precede the payload in the
// checksum: len (u32 LE) then seq (u64 LE). seq is not stored in the frame;
// covering it makes a frame valid only at its own position in the log.
// It is crc32.Checksum of those 12 bytes, computed bytewise so that no
// buffer escapes to the heap.
func crcSeed(n uint32, seq Seq) uint32 {
	crc := ^uint32(0)
	for i := range 4 {
		crc = castagnoli[byte(crc)^byte(n>>(8*i))] ^ crc>>8
	}
	for i := range 8 {
		crc = castagnoli[byte(crc)^byte(seq>>(8*i))] ^ crc>>8
	}
	return ^crc
}

// appendFrame appends the frame of record seq to dst.
func appendFrame(dst []byte, seq Seq, payload []byte) []byte {
	var hdr [frameHeaderSize]byte
	n := uint32(len(payload))
	binary.LittleEndian.PutUint32(hdr[0:4], n)
	binary.LittleEndian.PutUint32(hdr[4:8], crc32.Update(crcSeed(n, seq), castagnoli, payload))
	dst = append(append(dst, hdr[:]...), payload...)
	return append(dst, zeros[:pad8(len(payload))]...)
}

// decodeFrame checks frame, the whole on-disk frame of record seq, and
// returns its payload, which aliases frame, or what is wrong with it.
func decodeFrame(seq Seq, frame []byte) ([]byte, error) {
	if len(frame) < frameHeaderSize {
		return nil, fmt.Errorf("frame of %d bytes is shorter than its header", len(frame))
	}
	n := binary.LittleEndian.Uint32(frame[0:4])
	if frameSize(int(n)) != int64(len(frame)) {
		return nil, fmt.Errorf("length field %d does not match frame size %d", n, len(frame))
	}
	payload := frame[frameHeaderSize : frameHeaderSize+int(n)]
	want := binary.LittleEndian.Uint32(frame[4:8])
	if got := crc32.Update(crcSeed(n, seq), castagnoli, payload); got != want {
		return nil, fmt.Errorf("crc32c mismatch (stored %08x, computed %08x)", want, got)
	}
	return payload, nil
}
