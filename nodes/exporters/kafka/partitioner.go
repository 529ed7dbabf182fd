package kafka

import (
	"hash/crc32"
	"hash/fnv"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partitioners are the values of partitioning_strategy: the reference's
// librdkafka partitioner names, built on franz-go. A *_random strategy
// hashes keyed records and keeps unkeyed ones on one partition until its
// batch is full (franz-go's sticky partitioning, which spreads load like
// librdkafka's random choice but makes fuller batches); the others hash
// an unkeyed record as an empty key, so all go to one partition.
var partitioners = map[string]func() kgo.Partitioner{
	// random ignores keys.
	"random": kgo.StickyPartitioner,
	// consistent and consistent_random: CRC32, librdkafka's default.
	"consistent":        func() kgo.Partitioner { return hashAll(unsignedHasher(crc32.ChecksumIEEE)) },
	"consistent_random": func() kgo.Partitioner { return kgo.StickyKeyPartitioner(unsignedHasher(crc32.ChecksumIEEE)) },
	// murmur2 and murmur2_random: Kafka's Java producer (and franz-go's
	// default for keyed records), so keys land where Java producers put them.
	"murmur2":        func() kgo.Partitioner { return hashAll(kgo.KafkaHasher(murmur2)) },
	"murmur2_random": func() kgo.Partitioner { return kgo.StickyKeyPartitioner(nil) },
	// fnv1a and fnv1a_random: FNV-1a, 32 bits.
	"fnv1a":        func() kgo.Partitioner { return hashAll(unsignedHasher(fnv1a)) },
	"fnv1a_random": func() kgo.Partitioner { return kgo.StickyKeyPartitioner(unsignedHasher(fnv1a)) },
}

// partitionerNames lists the strategies, sorted.
func partitionerNames() []string { return slices.Sorted(maps.Keys(partitioners)) }

// hashAll partitions every record by the hash of its key, an absent key
// hashing as an empty one.
func hashAll(h kgo.PartitionerHasher) kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		return func(r *kgo.Record, n int) int { return h(r.Key, n) }
	})
}

// unsignedHasher maps a 32-bit hash to a partition as librdkafka does:
// the unsigned hash modulo the partition count.
func unsignedHasher(hash func([]byte) uint32) kgo.PartitionerHasher {
	return func(key []byte, n int) int { return int(hash(key) % uint32(n)) }
}

func fnv1a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

// murmur2 is Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2),
// as franz-go's StickyKeyPartitioner uses it.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
