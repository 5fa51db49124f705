// swift-tools-version:6.0
import Foundation
import PackageDescription

let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")

/// Models' SGD kernel uses 8-lane SIMD and fused multiply-adds when the CPU of the build machine
/// has AVX2 and FMA (x86-64-v3: Intel Haswell, AMD Zen or newer); the binary then needs such a
/// CPU. `LATENT_PORTABLE_BUILD=1` builds for any x86-64 (4-lane SSE kernels, same results
/// up to rounding).
let nativeSIMD: [SwiftSetting] = {
    #if arch(x86_64) && os(Linux)
    if ProcessInfo.processInfo.environment["LATENT_PORTABLE_BUILD"] == "1" { return [] }
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return [] }
    let features = Set(flags.split(separator: " "))
    guard features.contains("avx2"), features.contains("fma") else { return [] }
    return [.unsafeFlags(["-target-cpu", "haswell"]), .define("LATENT_AVX2")]
    #else
    return []
    #endif
}()

let package = Package(
    name: "Latent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "latent", targets: ["latent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        // C libraries, found through pkg-config; each is wrapped by exactly one Swift module.
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Header only: optimisation barriers and a prefetch hint for the SGD kernel.
        .systemLibrary(name: "CSIMD"),

        // Wrappers with clear ownership of the C handles.
        .target(name: "Kafka", dependencies: ["CRdKafka", logging]),
        .target(name: "Postgres", dependencies: ["CLibPQ", logging]),

        // Ratings and catalogue entries with external ids: what ingest, import and the snapshot
        // share. No dependencies, so ingest links neither the models nor OpenBLAS.
        .target(name: "Records"),

        // Kafka -> PostgreSQL: event parsing, batching, COPY writers, offsets in the same
        // transaction. Data flows one way: Kafka -> Ingest -> PostgreSQL -> snapshot -> Models ->
        // publish.
        .target(name: "Ingest", dependencies: ["Kafka", "Postgres", "Records", logging, metrics]),

        // Snapshot structures, models, evaluation. Numeric code: BLAS/LAPACK through COpenBLAS.
        .target(name: "Models", dependencies: ["Records", "COpenBLAS", "CSIMD", logging], swiftSettings: nativeSIMD),

        // Orchestration: migrations, import, database snapshots, training runs, publishing.
        // `Migrations` is a symlink to sql/migrations (the canonical, human-facing folder): SwiftPM
        // compiles every file in it into the binary as bytes (`PackageResources`), so `latent migrate` reads no files.
        .target(
            name: "Pipeline", dependencies: ["Postgres", "Records", "Models", logging, metrics],
            resources: [.embedInCode("Migrations")]),

        // `latent serve`: ingest, the training schedule, the live refresh and HTTP, as services
        // of one ServiceGroup.
        .target(
            name: "LatentServer",
            dependencies: [
                "Ingest", "Pipeline", "Postgres", "Models", logging, metrics,
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),

        .executableTarget(
            name: "latent",
            dependencies: [
                "Ingest", "Pipeline", "Records", "Models", "Kafka", "Postgres", logging, metrics,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "LatentServer",
            ]
        ),

        .testTarget(name: "KafkaTests", dependencies: ["Kafka"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Records"]),
        // Helpers shared by test targets: the built `latent` executable run as a user runs it,
        // scratch databases, loopback sockets.
        .target(name: "LatentTestSupport", dependencies: ["Postgres"], path: "Tests/LatentTestSupport"),
        .testTarget(name: "PipelineTests", dependencies: ["Ingest", "Pipeline", "Records", "Kafka", "Postgres", "Models", "LatentTestSupport", logging]),
        .testTarget(name: "LatentServerTests", dependencies: ["LatentServer", "Ingest", "Pipeline", "Postgres", "Models", "Kafka", "LatentTestSupport"]),
        .testTarget(name: "LatentTests", dependencies: ["latent", "LatentTestSupport", "Postgres"]),
    ]
)
