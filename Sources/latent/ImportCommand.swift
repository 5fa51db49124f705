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
        subcommands: [ImportFile<RatingsFile>.self, ImportFile<MoviesFile>.self])
}

/// What `latent import` can load: the subcommand's name and help, and the importer's call.
protocol ImportableFile {
    static var commandName: String { get }
    static var abstract: String { get }
    static var fileHelp: String { get }
    static func load(_ path: String, with importer: Importer) throws -> ImportSummary
}

enum RatingsFile: ImportableFile {
    static let commandName = "ratings"
    static let abstract = "Import a ratings file."
    static let fileHelp = "Ratings file (ratings.csv, ratings.dat, u.data, *.inter)."
    static func load(_ path: String, with importer: Importer) throws -> ImportSummary { try importer.importRatings(from: path) }
}

enum MoviesFile: ImportableFile {
    static let commandName = "movies"
    static let abstract = "Import a movie catalogue."
    static let fileHelp = "Movies file (movies.csv, movies.dat, u.item, *.item)."
    static func load(_ path: String, with importer: Importer) throws -> ImportSummary { try importer.importMovies(from: path) }
}

/// `latent import ratings|movies FILE`: one file over one connection.
struct ImportFile<File: ImportableFile>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: File.commandName, abstract: File.abstract)
    }

    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp(File.fileHelp))
    var file: String

    func run() throws {
        let connection = try database.connect()
        defer { connection.close() }
        print(try File.load(file, with: Importer(connection: connection)))
    }
}
