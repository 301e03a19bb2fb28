import ArgumentParser
import Foundation
import TokenGateApp
import TokenGateAuth

/// `tokengate key …`: signing keys. A running server picks changes up on SIGHUP.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage signing keys (send SIGHUP to the server afterwards; nobody is logged out).",
        subcommands: [Generate.self, List.self, Retire.self, Import.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new Ed25519 key; after a reload it signs new tokens, older keys keep verifying.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let configuration = try options.load()
            let key = SigningKey.generate(now: Date())
            try KeyDirectory(path: configuration.keyDirectory).save(key)
            print("generated key \(key.kid)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys and what each is used for.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let configuration = try options.load()
            let keys = try KeyDirectory(path: configuration.keyDirectory).load(now: Date())
            let signer = keys.filter { $0.canSign && $0.retiredAt == nil }.max { $0.createdAt < $1.createdAt }
            print(["KID", "CREATED", "USE"].joined(separator: "\t"))
            for key in keys {
                let use: String
                if key.retiredAt != nil {
                    use = "retired"
                } else if key.kid == signer?.kid {
                    use = "signs+verifies"
                } else {
                    use = key.canSign ? "verifies" : "verifies (public only)"
                }
                print([key.kid, ISO8601DateFormatter().string(from: key.createdAt), use].joined(separator: "\t"))
            }
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retire a key: it stops signing and verifying (wait until its tokens expired first).")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The key id.") var kid: String

        func run() async throws {
            let configuration = try options.load()
            let directory = KeyDirectory(path: configuration.keyDirectory)
            let keys = try directory.load(now: Date())
            let active = keys.filter { $0.canSign && $0.retiredAt == nil }
            if active.count == 1, active.first?.kid == kid {
                throw CommandError("`\(kid)` is the only signing key; generate a new key first.")
            }
            try directory.retire(kid: kid, now: Date())
            print("retired key \(kid)")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a public Ed25519 key (JWK or PEM) as verify-only, for tokens minted elsewhere.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "A file with a public JWK (kty OKP, crv Ed25519) or a PEM public key.") var file: String
        @Option(name: .long, help: "The key id (required for PEM; overrides a JWK's kid).") var kid: String?

        func run() async throws {
            let configuration = try options.load()
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandError("Cannot read \(file).")
            }
            let key = try PublicKeyImport.parse(data, kid: kid, now: Date())
            try KeyDirectory(path: configuration.keyDirectory).save(key)
            print("imported verify-only key \(key.kid)")
        }
    }
}
