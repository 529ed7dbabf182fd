package kafka

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errClass sorts why a record failed. It labels records_failed_total and,
// for the failure that decides a payload's nack, requests_total's status.
type errClass uint8

const (
	classTimeout        errClass = iota // the export's deadline, franz-go's record timeout, REQUEST_TIMED_OUT
	classCanceled                       // the export was cancelled (forced shutdown) or the client closed
	classNetwork                        // dial, read or write failures, TLS handshakes
	classNotLeader                      // NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE: leadership moving
	classUnknownTopic                   // UNKNOWN_TOPIC_OR_PARTITION after franz-go's retries: it may be created
	classAuthentication                 // SASL failures: credentials, not the data
	classRetriable                      // any other error Kafka calls retriable
	classOther                          // anything else: retried rather than dropped
	classTooLarge                       // MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, or no cut fits: permanent
	classAuthorization                  // TOPIC_/CLUSTER_AUTHORIZATION_FAILED: permanent
	classInvalidTopic                   // INVALID_TOPIC_EXCEPTION: permanent
	classInvalidRecord                  // INVALID_RECORD, CORRUPT_MESSAGE... refused as such: permanent
	numClasses
)

var classNames = [numClasses]string{
	"timeout", "canceled", "network", "not_leader", "unknown_topic", "authentication",
	"retriable", "other", "message_too_large", "authorization", "invalid_topic", "invalid_record",
}

func (c errClass) String() string { return classNames[c] }

// permanent reports a class the broker refuses the data for: sending the
// same records again cannot succeed. The list is short on purpose (the
// reference's conservative allowlist): anything unknown is retried rather
// than dropped.
func (c errClass) permanent() bool { return c >= classTooLarge }

// classify sorts a record's error. kerr.IsRetriable covers what Kafka
// documents as retriable; franz-go has already retried those within the
// export's deadline before an error reaches a promise.
func classify(err error) errClass {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.MessageTooLarge, kerr.RecordListTooLarge:
			return classTooLarge
		case kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.TransactionalIDAuthorizationFailed:
			return classAuthorization
		case kerr.InvalidTopicException:
			return classInvalidTopic
		case kerr.InvalidRecord, kerr.CorruptMessage, kerr.UnsupportedForMessageFormat, kerr.InvalidRequiredAcks:
			return classInvalidRecord
		case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID:
			return classUnknownTopic
		case kerr.NotLeaderForPartition, kerr.LeaderNotAvailable, kerr.FencedLeaderEpoch, kerr.UnknownLeaderEpoch:
			return classNotLeader
		case kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism, kerr.IllegalSaslState:
			return classAuthentication
		case kerr.RequestTimedOut:
			return classTimeout
		}
		if ke.Retriable {
			return classRetriable
		}
		return classOther
	}
	var (
		netErr net.Error
		eof    *kgo.ErrFirstReadEOF
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrRecordTimeout):
		return classTimeout
	case errors.Is(err, context.Canceled), errors.Is(err, kgo.ErrClientClosed), errors.Is(err, kgo.ErrAborting):
		return classCanceled
	case errors.As(err, &netErr), errors.As(err, &eof), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return classNetwork
	case errors.Is(err, kgo.ErrRecordRetries):
		return classRetriable
	}
	return classOther
}
