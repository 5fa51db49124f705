import ArgumentParser

/// `--http-host` and `--http-port`, defaulting to `LATENT_HTTP_HOST` / `LATENT_HTTP_PORT`, then
/// 127.0.0.1:8080.
struct HTTPOptions: ParsableArguments {
    @Option(name: .customLong("http-host"), help: "Address the HTTP server binds (default: $LATENT_HTTP_HOST, else 127.0.0.1).")
    var httpHost: String?

    @Option(name: .customLong("http-port"), help: "HTTP port (default: $LATENT_HTTP_PORT, else 8080).")
    var httpPort: Int?

    var host: String { httpHost ?? environmentValue("LATENT_HTTP_HOST") ?? "127.0.0.1" }

    /// The port from the flag, else the environment, else 8080; an error names a bad one. Not
    /// `validate()`: `latent serve` checks its database first.
    func port() throws -> Int {
        let port = try httpPort ?? environmentPort()
        guard (0...65535).contains(port) else { throw ValidationError("--http-port must be in 0...65535, got \(port)") }
        return port
    }

    private func environmentPort() throws -> Int {
        guard let text = environmentValue("LATENT_HTTP_PORT") else { return 8080 }
        guard let value = Int(text) else { throw ValidationError("LATENT_HTTP_PORT must be a port number, got '\(text)'") }
        return value
    }
}
