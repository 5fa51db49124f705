import Models

/// Computes what a run publishes from a trained model: every user's top-N (rated and excluded
/// movies left out), similar movies by cosine and dot, genre vectors.
package struct RunContentBuilder: Sendable {
    package var settings: PublishSettings
    package var excludedMovies: Set<Int64>

    package init(settings: PublishSettings, excludedMovies: Set<Int64> = []) {
        self.settings = settings
        self.excludedMovies = excludedMovies
    }

    /// - Parameter dataset: the snapshot the model was trained from (same dense indices).
    package func build(model: FactorModel, dataset: Dataset, clipsScores: Bool) throws -> RunContent {
        let rated = SparseRatings(dataset.ratings, userCount: dataset.users.count, movieCount: dataset.movies.count)
        var content = try lists(model: model, dataset: dataset, rated: rated, clipsScores: clipsScores)
        try addVectors(to: &content, dataset: dataset)
        return content
    }

    /// Every user's top-N (the other parts empty), leaving out what `rated` (the dataset's
    /// ratings, indexed like it) holds.
    package func lists(model: FactorModel, dataset: Dataset, rated: SparseRatings, clipsScores: Bool) throws -> RunContent {
        let lists = try model.topNForAllUsers(
            count: settings.listLength, excluding: rated, excludedMovies: excludedMovies, threads: settings.threads)
        return RunContent(model: model, recommendations: lists, clipsScores: clipsScores, similar: [], genres: nil)
    }

    /// Similar movies by every measure and genre vectors, for models with vectors.
    package func addVectors(to content: inout RunContent, dataset: Dataset) throws {
        let model = content.model
        guard content.vectorLength > 0 else { return }
        let measures = SimilarityMeasure.allCases
        let tables = try model.similarForAllMovies(
            count: settings.similarCount, measures: Array(measures),
            excludedMovies: excludedMovies.union(try Self.moviesWithoutSignal(model, dataset: dataset)), threads: settings.threads)
        content.similar.append(contentsOf: zip(measures, tables).map { ($0, $1) })
        content.genres = model.genreVectors(genres: dataset.genres)
    }

    /// Movies the model learned nothing about from ratings: none of their ratings reaches the
    /// model's positive threshold (ials' positives, the neural model's liked movies; any
    /// rating for the others). Their vectors are their genre prior alone, the same for every
    /// movie of a genre set, so by cosine they would crowd the similar lists of every movie of
    /// those genres (on ML-latest-small, six one-rating films filled Toy Story's top 8). They
    /// still get similar lists of their own; they are only never listed as similar.
    static func moviesWithoutSignal(_ model: FactorModel, dataset: Dataset) throws -> Set<Int64> {
        let threshold = try model.learnedThreshold() ?? -.infinity
        var learned = [Bool](repeating: false, count: dataset.movies.count)
        let ratings = dataset.ratings
        for i in 0..<ratings.count where ratings.ratings[i] >= threshold { learned[Int(ratings.movies[i])] = true }
        return Set(learned.indices.filter { !learned[$0] }.map { dataset.movies.ids[$0] })
    }
}
