/// How the neural embedder's output layer is trained: a softmax over the whole catalogue by
/// matrix products, or a sampled softmax over each user's own movies and a few thousand
/// negatives shared by the mini-batch (Jean, Cho, Memisevic and Bengio 2015, "On Using Very
/// Large Target Vocabulary for Neural Machine Translation"; Bengio and Senécal 2008), corrected
/// by the log-probability of drawing each negative (Yi et al. 2019, "Sampling-Bias-Corrected
/// Neural Modeling for Large Corpus Item Recommendations").
package enum NeuralSoftmax: Sendable, Equatable, CustomStringConvertible {
    /// Full up to ``fullSoftmaxLimit`` movies, sampled with ``defaultNegatives`` draws above.
    case automatic
    case full
    /// `negatives` draws per mini-batch from the proposal (repeats collapse, so the distinct
    /// negatives are at most that many).
    case sampled(negatives: Int)

    /// The largest catalogue trained with the full softmax by default. Its cost per epoch is
    /// about users x movies x d x 6 FLOP (one product forward, two backward); the sampled one
    /// replaces movies by the negatives plus the user's own movies, so above this size the full
    /// product is at least ten times the sampled one at the default draw count. Measured
    /// (release, 2 cores): ML-latest-small (9,742 movies, d = 200) 0.19 s per epoch full, 0.09
    /// sampled, NDCG@10 0.237 against 0.227 on a random 90/10 split; 4M-rating synthetic set
    /// (20,000 movies, d = 200) 25 s against 6 s; 32M-rating synthetic set (87,000 movies,
    /// d = 64) 230 s against 32 s.
    package static let fullSoftmaxLimit = 20_000
    /// Draws per mini-batch when the automatic choice samples.
    package static let defaultNegatives = 2_000

    /// The concrete choice (never ``automatic``) for a catalogue of `movieCount` movies, and a
    /// sentence saying why, for the training log.
    package func resolved(movieCount: Int) -> (softmax: NeuralSoftmax, reason: String) {
        switch self {
        case .full:
            return (.full, "full softmax requested")
        case .sampled(let negatives):
            return (.sampled(negatives: negatives), "sampled softmax requested (\(negatives) negatives per batch)")
        case .automatic where movieCount <= Self.fullSoftmaxLimit:
            return (.full, "\(movieCount) movies <= \(Self.fullSoftmaxLimit): the full softmax is affordable")
        case .automatic:
            return (.sampled(negatives: Self.defaultNegatives),
                    "\(movieCount) movies > \(Self.fullSoftmaxLimit): sampled softmax with \(Self.defaultNegatives) negatives per batch")
        }
    }

    package var description: String {
        switch self {
        case .automatic: "automatic"
        case .full: "full"
        case .sampled(let negatives): "sampled(\(negatives))"
        }
    }
}
