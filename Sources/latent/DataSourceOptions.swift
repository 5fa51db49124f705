import ArgumentParser
import Models
import Pipeline
import Postgres

/// Ratings and movies from the `latent` schema (`--from-db`) or from MovieLens files: the training
/// data of the model commands, what a user rated and the titles for `recommend` and `similar`.
struct DataSourceOptions: ParsableArguments {
    @Flag(name: .customLong("from-db"), help: "Read ratings and movies from PostgreSQL (the latent schema).")
    var fromDatabase = false

    @Option(help: ArgumentHelp("A MovieLens ratings file (ratings.csv, ratings.dat, u.data, *.inter).", valueName: "file"))
    var ratings: String?

    @Option(help: ArgumentHelp("The matching movies file, for titles and genres (movies.csv, movies.dat, u.item, *.item).", valueName: "file"))
    var movies: String?

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard fromDatabase else { return }
        guard ratings == nil, movies == nil else { throw ValidationError("give either --from-db or --ratings/--movies, not both") }
        try database.requireURL()
    }

    /// Fails with a clear message when neither `--from-db` nor `--ratings` is given. Not
    /// `validate()`: `recommend` and `similar` embed these options without needing a source.
    func requireSource() throws {
        guard fromDatabase || ratings != nil else {
            throw ValidationError("no training data: pass --from-db or --ratings FILE [--movies FILE]")
        }
    }

    /// A description of the source for logs and run metadata (never the database URL).
    var label: String { fromDatabase ? "database" : (ratings ?? "") }

    /// Loads the snapshot. With `--from-db` the open connection is returned too, for run metadata.
    func load() throws -> (Dataset, PostgresConnection?) {
        if fromDatabase {
            let connection = try database.connect()
            return (try loadDataset(from: connection), connection)
        }
        guard let ratings else { throw CommandFailure("no training data: pass --from-db or --ratings FILE") }
        return (try MovieLens.loadDataset(ratings: ratings, movies: movies), nil)
    }
}
