import Kafka
import Metrics

/// The ingest counters (swift-metrics; exported by whatever backend the process bootstraps):
///
/// - `latent_ingest_events_consumed_total`: messages read from Kafka and written (accepted or rejected);
/// - `latent_ingest_events_accepted_total`: valid events (including ones superseded by a newer `ts`);
/// - `latent_ingest_events_rejected_total{reason}`: rejected events by stable reason code;
/// - `latent_ingest_batch_duration_seconds`: time to write one batch transaction (incl. retries);
/// - `latent_ingest_consumer_lag{topic,partition}`: high watermark minus the next offset stored.
///
/// Counted per committed batch, so the numbers match the database, never a rolled-back attempt.
final class IngestMetrics {
    private let consumed = Counter(label: "latent_ingest_events_consumed_total")
    private let accepted = Counter(label: "latent_ingest_events_accepted_total")
    private var rejected: [EventRejection.Reason: Counter] = [:]
    private let batchDuration = Metrics.Timer(label: "latent_ingest_batch_duration_seconds", preferredDisplayUnit: .seconds)
    private var lag: [TopicPartition: Gauge] = [:]

    func recordCommitted(_ batch: IngestBatch, nanoseconds: UInt64) {
        consumed.increment(by: batch.consumedCount)
        accepted.increment(by: batch.acceptedCount)
        var byReason: [EventRejection.Reason: Int] = [:]
        for message in batch.rejected { byReason[message.rejection.reason, default: 0] += 1 }
        for (reason, count) in byReason {
            let counter = rejected[reason] ?? Counter(label: "latent_ingest_events_rejected_total", dimensions: [("reason", reason.rawValue)])
            rejected[reason] = counter
            counter.increment(by: count)
        }
        batchDuration.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    func recordLag(_ tp: TopicPartition, _ value: Int64) {
        let gauge = lag[tp] ?? Gauge(label: "latent_ingest_consumer_lag", dimensions: [("topic", tp.topic), ("partition", String(tp.partition))])
        lag[tp] = gauge
        gauge.record(max(0, value))
    }
}
