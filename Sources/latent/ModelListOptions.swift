import ArgumentParser

/// The saved model and the list length of `latent recommend` and `latent similar`.
struct ModelListOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("A model file written by latent train.", valueName: "model"))
    var modelPath: String

    @Option(help: "How many movies.")
    var count = 10

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
    }
}
