import ArgumentParser
import Pipeline

/// `latent import ratings|movies FILE`: bulk-loads MovieLens files with binary COPY.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk-load MovieLens files straight into PostgreSQL (for bootstrapping a database).",
        discussion: """
            Reads ratings.csv/movies.csv, ratings.dat/movies.dat, u.data/u.item and RecBole .inter/.item.
            Rows are merged with the ingest rules (the newest rating per user and movie wins; retracted
            ratings stay retracted), so importing twice changes nothing. A bad line stops the import
            with an error naming the file and line, and nothing is written.
            """,
        subcommands: [Ratings.self, Movies.self])

    struct Ratings: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a ratings file.")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Ratings file (ratings.csv, ratings.dat, u.data, *.inter).")
        var file: String

        func run() throws {
            let connection = try database.connect()
            defer { connection.close() }
            print(try Importer(connection: connection).importRatings(from: file))
        }
    }

    struct Movies: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a movie catalogue.")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Movies file (movies.csv, movies.dat, u.item, *.item).")
        var file: String

        func run() throws {
            let connection = try database.connect()
            defer { connection.close() }
            print(try Importer(connection: connection).importMovies(from: file))
        }
    }
}
