/// One schema migration: a numbered SQL file from `sql/migrations/` (`001_schema.sql` is
/// version 1, named "schema").
package struct Migration: Sendable, Equatable {
    package let version: Int
    package let name: String
    package let sql: String
}

extension Migration {
    /// Parses `NNN_name.sql` into a migration.
    package init(fileName: String, sql: String) throws(MigrationError) {
        guard fileName.hasSuffix(".sql") else { throw .badFileName(fileName) }
        let stem = fileName.dropLast(4)
        guard let underscore = stem.firstIndex(of: "_") else { throw .badFileName(fileName) }
        let digits = stem[..<underscore]
        let name = stem[stem.index(after: underscore)...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let version = Int(digits), version > 0,
              !name.isEmpty
        else { throw .badFileName(fileName) }
        self.init(version: version, name: String(name), sql: sql)
    }
}

/// The migrations this build of Latent knows.
package enum Migrations {
    /// Every embedded migration in version order. The canonical SQL is in `sql/migrations/`;
    /// it is compiled into the binary (``embeddedFiles``), so no files are read at run time.
    package static var all: [Migration] {
        get throws(MigrationError) {
            var migrations: [Migration] = []
            for file in embeddedFiles {
                migrations.append(try Migration(fileName: file.fileName, sql: file.sql))
            }
            return try ordered(migrations)
        }
    }

    /// The migration files compiled into the binary, (file name, SQL text) in file-name order.
    ///
    /// SwiftPM embeds every file of `sql/migrations/` (through the `Sources/Pipeline/Migrations`
    /// symlink and `.embedInCode` in Package.swift) as a `PackageResources` byte array named
    /// after the file (`001_schema.sql` becomes `_01_schema_sql`); this list names each one.
    /// A new migration file needs its line here: MigrationTests fails, naming the file, until
    /// it has one.
    package static let embeddedFiles: [(fileName: String, sql: String)] = [
        ("001_schema.sql", PackageResources._01_schema_sql),
        ("002_publish.sql", PackageResources._02_publish_sql),
        ("003_serve.sql", PackageResources._03_serve_sql),
        ("004_model_files.sql", PackageResources._04_model_files_sql),
    ].map { ($0, String(decoding: $1, as: UTF8.self)) }

    /// `migrations` sorted by version; rejects duplicate versions.
    package static func ordered(_ migrations: [Migration]) throws(MigrationError) -> [Migration] {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw .duplicateVersion(next.version)
        }
        return sorted
    }
}

/// A migration set or database state the runner cannot work with.
package enum MigrationError: Error, Equatable, CustomStringConvertible {
    case badFileName(String)
    case duplicateVersion(Int)

    package var description: String {
        switch self {
        case .badFileName(let name):
            return "migration file '\(name)' must be named NNN_name.sql (a positive version number, an underscore, a name)"
        case .duplicateVersion(let version):
            return "two migration files have version \(version); versions must be unique"
        }
    }
}
