/// Settings of one `latent ingest` run.
package struct IngestConfiguration: Sendable {
    /// librdkafka properties (`bootstrap.servers`, TLS/SASL, ...).
    package var kafkaOptions: [String: String]
    package var ratingsTopic: String
    package var moviesTopic: String
    package var consumerGroup: String
    /// libpq URL or conninfo (never logged).
    package var databaseURL: String
    /// A batch is written once it holds this many messages...
    package var maxBatchEvents = 50_000
    /// ...or once its first message is this old (seconds).
    package var maxBatchDelay = 0.2
    /// Return once every assigned partition is at its high watermark.
    package var untilCaughtUp = false
    /// Parallel writers (PostgreSQL connections). Partition `p` of either topic always goes to
    /// writer `p % writers`, so the events of one key are written in order by one writer.
    package var writers = 2
    /// Seconds between progress log lines.
    package var progressInterval = 5.0
    /// Called on the writer thread after each batch commits, with the users whose ratings it
    /// changed (the live refresh listens here). Must return quickly: hand the work off.
    package var onBatchCommitted: (@Sendable (CommittedRatings) -> Void)?

    package init(kafkaOptions: [String: String], ratingsTopic: String, moviesTopic: String, consumerGroup: String, databaseURL: String) {
        self.kafkaOptions = kafkaOptions
        self.ratingsTopic = ratingsTopic
        self.moviesTopic = moviesTopic
        self.consumerGroup = consumerGroup
        self.databaseURL = databaseURL
    }
}
