/// The published tables, each partitioned by `run_id` with one partition per run.
///
/// Partition names are built from the table and an integer run id that the code formats
/// itself (`latent.user_recommendations_r42`), never from text that came from outside.
package enum RunTable: String, CaseIterable, Sendable {
    case userRecommendations = "user_recommendations"
    case similarMovies = "similar_movies"
    case genreVectors = "genre_vectors"
    case movieVectors = "movie_vectors"
    case userVectors = "user_vectors"

    /// The partitioned table.
    package var qualifiedName: String { "latent.\(rawValue)" }

    /// The partition holding run `runID`'s rows.
    package func partition(_ runID: Int64) -> String { "latent.\(partitionName(runID))" }

    /// The partition's name without the schema.
    package func partitionName(_ runID: Int64) -> String { "\(rawValue)_r\(runID)" }

    /// The columns COPY writes, in order.
    package var columns: String {
        switch self {
        case .userRecommendations: return "run_id, user_id, rank, movie_id, score"
        case .similarMovies: return "run_id, movie_id, measure, rank, similar_movie_id, similarity"
        case .genreVectors: return "run_id, genre, vector, source"
        case .movieVectors: return "run_id, movie_id, vector, bias"
        case .userVectors: return "run_id, user_id, vector, bias"
        }
    }

    /// The key columns of the partitioned index (each partition builds the same index before it
    /// is attached, so attaching adopts it instead of building one under lock).
    package var indexColumns: String {
        switch self {
        case .userRecommendations: return "user_id, rank"
        case .similarMovies: return "movie_id, measure, rank"
        case .genreVectors: return "genre"
        case .movieVectors: return "movie_id"
        case .userVectors: return "user_id"
        }
    }
}
