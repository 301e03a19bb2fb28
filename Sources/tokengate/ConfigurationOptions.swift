import ArgumentParser
import Foundation
import TokenGateApp

/// Options every command shares: where the configuration comes from.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $TOKENGATE_CONFIG or /etc/tokengate/tokengate.conf).")
    var config: String?

    @Option(name: .long, help: "Data directory (overrides storage.directory).")
    var dataDir: String?

    /// Loads the effective configuration; exits with a one-line error naming the key.
    func load(overrides extra: [String: String] = [:]) throws -> TokenGateConfiguration {
        var overrides = extra
        if let dataDir { overrides["storage.directory"] = dataDir }
        do {
            return try TokenGateConfiguration(
                environment: ProcessInfo.processInfo.environment, file: config, overrides: overrides)
        } catch let error as ConfigurationError {
            throw CommandError(error.description)
        }
    }
}

/// A user mistake reported as one line (`Error: …`) with exit status 1, without the usage text.
struct CommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
