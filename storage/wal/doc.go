// Package wal is a segmented write-ahead log of opaque records: the storage
// engine behind processor:durable_buffer. It knows nothing of pdata or of
// the engine: it appends records, reads them back in order, remembers which
// were delivered ("done") and survives crashes.
//
// # Quick start
//
//	l, err := wal.Open(wal.Options{Dir: "/var/lib/ackflow/buf"})
//	seq, err := l.Append(payload)       // not yet durable
//	l.Commit(func(err error) { ... })   // now it is (or err says why not)
//	r := l.NewReader()
//	seq, data, err := r.Next()          // io.EOF: caught up, try later
//	l.Done(seq)                         // delivered, in any order
//	l.Checkpoint()                      // persist progress, delete done segments
//	l.Close()
//
// # Sequence numbers
//
// Every record gets a Seq: 1 for the first record of a new log, then one
// more per Append. Numbers never go back, across Close and Open and even
// after every segment was deleted: every Checkpoint stores the next number
// in the ledger, and the newest segment file (never deleted while it is the
// newest) carries one in its name. The exceptions are harmless because
// nothing durable refers to those numbers: the records of a torn tail or
// of a quarantined newest segment, lost after the last Checkpoint, can see
// their numbers handed out again. Recovery may leave holes in the
// numbering; a hole counts as done.
//
// # Durability
//
// Append writes the record with write(2) and returns; Commit(fn) calls fn
// once every record appended before the call is committed:
//
//   - Fsync (default): committed means on stable storage. The segment is
//     flushed with fdatasync(2) (data and size), and for a new segment its
//     directory with fsync(2), before fn(nil) runs. A committed record
//     survives kill -9 and power loss, on a device that honours flushes.
//     Commits that arrive while a flush is running share the next one
//     (group commit), on the log's syncer goroutine.
//   - Write: committed means write(2) returned; fn runs before Commit
//     returns. A committed record survives kill -9 (it is in the kernel's
//     page cache). A power loss or kernel crash loses the last instants:
//     what the kernel had not written back yet of the open segment (at most
//     MaxSegmentOpenDuration or MaxSegmentSize of appends, if the owner
//     calls Maintain on time) and of a segment sealed so recently that the
//     syncer had not flushed it; every older segment was flushed in the
//     background after it was sealed.
//
// In both modes Close flushes everything, so a clean shutdown is durable,
// and the ledger is always written with fsync. Readers may see a record
// before it is committed.
//
// # Progress: done, the ledger, deletion
//
// Done(seq) marks a record delivered, in any order (a consumer has many in
// flight and retries some). The done set is a low watermark (every seq
// below it is done) plus sorted intervals above it, so its memory grows
// with the number of gaps, not with the backlog. Each Done also writes a
// 16-byte entry to the done journal, DONE (| seq u64 | crc32c u32 | 0 u32 |),
// with write(2) and no fsync: a kill -9 loses no mark, so a consumer
// redelivers only what was in flight; a power loss may lose the latest
// marks, whose records are then delivered again, never lost. Recovery
// applies the journal on top of the ledger, ignores an entry whose
// checksum fails (redelivery) and never hands out a marked number again.
// Checkpoint deletes every sealed segment whose records are all done (the
// newest segment excepted), replaces the ledger atomically (write
// LEDGER.tmp, fsync, rename, fsync the directory) and then empties the
// journal. DropSegment deletes a sealed segment whether done or not (size cap,
// max age), showing its undone records to the caller first.
//
// # Segments and sealing
//
// Records go to the open segment, which is sealed and replaced by a new
// one before a record would take it past MaxSegmentSize (default 32 MiB),
// or once its first record is MaxSegmentOpenDuration old (default 1s). The
// log owns no timer: sealing by age happens on the next Append, or when the
// owner calls Maintain(now), typically from a wakeup set at NextMaintain.
// Segments found at Open are sealed; appends always go to a new segment
// (or to an empty last one).
//
// # On-disk layout
//
//	<Dir>/
//	├── LOCK                       flock(2)ed by the Log that has the directory
//	├── LEDGER                     progress: next seq, low watermark, done intervals
//	├── LEDGER.tmp                 a ledger being written (removed at Open)
//	├── DONE                       done journal: marks since the last Checkpoint
//	├── 00000000000000000001.seg   records 1..k     (%020d = first seq:
//	├── 00000000000000000417.seg   records k+1..    lexical order = log order)
//	└── quarantine/                unusable files moved aside at Open, never read
//	    └── 00000000000000000233.seg
//
// # On-disk format
//
// All integers are little endian; CRCs are CRC-32C (Castagnoli).
//
// A segment starts with a 32-byte header:
//
//	off  size  field
//	0    8     magic "AFWALSEG"
//	8    8     first seq (u64), equal to the number in the file name
//	16   8     creation time (i64, Unix nanoseconds, from Options.Clock)
//	24   2     version (u16) = 1
//	26   2     reserved, 0
//	28   4     crc32c of bytes 0..27
//
// Then frames, one per record, each starting on an 8-byte boundary:
//
//	| len u32 | crc u32 | payload (len bytes) | 0-7 zero bytes to a multiple of 8 |
//
// crc is crc32c(len as u32 ‖ seq as u64 ‖ payload). The seq is not stored:
// record i of the segment has seq first+i, and covering it in the CRC makes
// a frame valid only at its own place in the log. The padding keeps every
// 8-byte frame header inside one disk sector, so the length itself is never
// torn. len is at most MaxRecordSize (1 GiB).
//
// The ledger, LEDGER, is one record of 40 + 16n bytes:
//
//	off     size  field
//	0       8     magic "AFWALLDG"
//	8       4     version (u32) = 1
//	12      4     n: number of done intervals (u32)
//	16      8     next seq (u64): no record at or above it exists
//	24      8     low watermark (u64): every seq below it is done
//	32      16n   n intervals [start u64, end u64): done, sorted, disjoint,
//	              non-adjacent, low < start < end <= next
//	32+16n  4     crc32c of bytes 0..32+16n-1
//	36+16n  4     zero padding
//
// # Recovery
//
// Open streams every segment once, checking every CRC and building an index
// of frame offsets (4 bytes per record): time is linear in the backlog and
// memory is that index plus one 1 MiB buffer. What it finds, it repairs and
// counts in Stats, and logs; it starts anyway:
//
//   - A torn tail (an incomplete last frame, or a tail of zeros) is
//     truncated: TruncatedBytes. An empty or all-zero segment file (a crash
//     while creating it) is removed. A damaged length field that points
//     past the end of the file is indistinguishable from a torn last write
//     and is treated as one (as in etcd's wal).
//   - A frame that fails its CRC ends the segment's readable part: that
//     record and the ones after it in the segment are lost
//     (CorruptRecords, estimated by walking the frame lengths). The bytes
//     stay on disk, so every Open reports them again until the segment is
//     deleted; their sequence numbers are not reused.
//   - A segment with a bad header, a name that disagrees with it, a range
//     overlapping the previous segment, or that cannot be read is moved to
//     quarantine/: QuarantinedSegments.
//   - A ledger that fails its checks is moved to quarantine/ and ignored:
//     LedgerCorrupt. Nothing counts as done except what was deleted, so
//     every record still on disk is delivered again: redelivery, never
//     loss.
//   - Files the log does not own are left alone: UnknownFiles.
//
// Sequence numbers no segment holds (deleted or quarantined segments, lost
// records) count as done. Stats.RecoveryDuration tells how long it took.
//
// # Errors
//
// Errors wrap a sentinel (ErrLocked, ErrNoSpace, ErrClosed, ErrCorrupt,
// ErrNotFound, ErrTooLarge, ErrFailed) and name the file involved. A full
// volume on Append, on segment creation or on Checkpoint returns
// ErrNoSpace and leaves the log usable once space is freed. Any other write
// error, and any fsync error, fails the log for good, as in tidwall/wal:
// every later Append and Commit returns the same error wrapping ErrFailed
// (after a failed fsync the kernel may have dropped the data it held), and
// the owner closes and reopens the log, which recovers what reached the
// disk.
//
// # Concurrency
//
// Every method of Log is safe for concurrent use. One mutex guards the
// log's state and is held during Append's write(2); flushes (on the syncer
// goroutine), file reads, deletions and ledger writes run outside it.
// Commit callbacks run on the syncer goroutine and must not block or call
// Close. A Reader belongs to one goroutine. Close stops the syncer: no
// goroutine outlives the Log. The intended owner is one node goroutine
// that calls Append, Commit, the Reader, Done, Checkpoint and Maintain,
// with Commit callbacks arriving from the syncer.
//
// # Module organisation
//
//	file         contents
//	doc.go       this specification
//	options.go   Options, Durability, defaults, validation
//	errors.go    sentinel errors
//	frame.go     record frames: encoding, CRC, checking
//	segment.go   segment files: names, header, index, creation
//	done.go      the done set: watermark plus interval set
//	ledger.go    the ledger: encoding, atomic replacement
//	lock.go      the directory lock (flock)
//	recover.go   Open's recovery: scanning, truncation, quarantine
//	log.go       Log: Open, Append, sealing, Done, Checkpoint, Close
//	commit.go    Commit, AppendSync and the group-commit syncer
//	capacity.go  Segments, DropSegment, Stats: for size caps and max age
//	reader.go    Reader and Read
package wal
