import ArgumentParser
import TokenGateApp

/// `tokengate config check`: validates and prints the effective configuration.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Inspect the configuration.", subcommands: [Check.self, Keys.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print every effective value with its source (secrets redacted).",
            discussion: "Exits 0 when valid; otherwise prints the key and the problem and exits non-zero.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let configuration = try options.load()
            print(configuration.describe())
        }
    }
}

extension ConfigCommand {
    /// `tokengate config keys`: every key with its environment variable and default.
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every configuration key, its environment variable, default and meaning.")
        @Flag(name: .long, help: "Print a Markdown table (as in the docs).") var markdown = false
        @Flag(name: .long, help: "Print an environment file with every variable commented out.") var env = false

        func run() async throws {
            for key in ConfigurationKey.all {
                if markdown {
                    let restart = key.needsRestart ? " (restart)" : ""
                    print("| `\(key.name)` | `\(key.environmentName)` | `\(key.defaultValue)` | \(key.summary)\(restart) |")
                } else if env {
                    print("# \(key.summary)\n#\(key.environmentName)=\(key.defaultValue)\n")
                } else {
                    print("\(key.name)\t\(key.environmentName)\t\(key.defaultValue)\t\(key.summary)")
                }
            }
        }
    }
}

/// `tokengate migrate`: creates or upgrades the database schema.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the database schema (serve also does this at start).")
    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let services = try await CommandContext.services(options)
        let applied = try await services.migrate()
        let version = try await services.schemaVersion() ?? "none"
        print(applied.isEmpty ? "schema is up to date (\(version))" : "applied \(applied.joined(separator: ", "))")
    }
}

/// `tokengate backup FILE`: an online, consistent copy of the SQLite store.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the SQLite store to FILE while tokengate keeps serving (PostgreSQL: use pg_dump).")
    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "The backup file to write (overwritten).") var file: String

    func run() async throws {
        let services = try await CommandContext.services(options)
        try services.backup(to: file)
        print("backed up \(services.configuration.databasePath) to \(file)")
    }
}
