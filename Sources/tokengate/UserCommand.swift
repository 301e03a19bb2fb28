import ArgumentParser
import Foundation
import Logging
import TokenGateApp
import TokenGateAuth

/// `tokengate user …`: account administration against the configured store.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage users. Changing a password or disabling a user ends all their sessions at once.",
        subcommands: [Add.self, Passwd.self, Disable.self, Enable.self, Roles.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user (the password is prompted for, or read with --password-stdin).")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The username (case-insensitive).") var username: String
        @Option(name: .long, help: "Display name (default: the username).") var name: String?
        @Option(name: .customLong("role"), help: "A role; repeat for several.") var roles: [String] = []
        @OptionGroup var password: PasswordInput

        func run() async throws {
            let services = try await CommandContext.services(options)
            let user = try await services.users.add(
                username: username, name: name, roles: roles, password: try password.read(confirm: true), at: Date())
            print("added user \(user.username) (id \(user.id))")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a new password and end every session of the user.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The username.") var username: String
        @OptionGroup var password: PasswordInput

        func run() async throws {
            let services = try await CommandContext.services(options)
            try await services.users.changePassword(username: username, password: try password.read(confirm: true), at: Date())
            print("password changed for \(username.lowercased()); their sessions were revoked")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user and end every session of the user.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The username.") var username: String

        func run() async throws {
            let services = try await CommandContext.services(options)
            try await services.users.setDisabled(true, username: username, at: Date())
            print("disabled \(username.lowercased()); their sessions were revoked")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The username.") var username: String

        func run() async throws {
            let services = try await CommandContext.services(options)
            try await services.users.setDisabled(false, username: username, at: Date())
            print("enabled \(username.lowercased())")
        }
    }

    struct Roles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a user's roles (tokens already issued keep their roles until they expire).")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The username.") var username: String
        @Argument(help: "The new roles (none clears them).") var roles: [String] = []

        func run() async throws {
            let services = try await CommandContext.services(options)
            try await services.users.setRoles(roles, username: username, at: Date())
            print("roles of \(username.lowercased()): \(roles.isEmpty ? "(none)" : roles.joined(separator: " "))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let services = try await CommandContext.services(options)
            print(["USERNAME", "NAME", "ROLES", "STATUS", "ID"].joined(separator: "\t"))
            for user in try await services.users.list() {
                let roles = user.roles.isEmpty ? "-" : user.roles.joined(separator: ",")
                print([user.username, user.name, roles, user.isDisabled ? "disabled" : "active", user.id].joined(separator: "\t"))
            }
        }
    }
}

/// Shared set-up for administration commands.
enum CommandContext {
    /// Quiet logging (warnings and errors to stderr) and the services over the configured store.
    static func services(_ options: ConfigurationOptions) async throws -> TokenGateServices {
        let configuration = try options.load()
        LoggingSystem.bootstrap { LineLogHandler(label: $0, format: .logfmt, level: .warning) }
        return try await TokenGateServices(configuration: configuration, logger: Logger(label: "tokengate.cli"))
    }
}
