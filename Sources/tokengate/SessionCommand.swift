import ArgumentParser
import Foundation
import TokenGateApp
import TokenGateAuth

/// `tokengate session …`: inspect and revoke sessions. Revocations reach a running server's
/// gate within about a second.
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "List and revoke sessions.", subcommands: [List.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List active sessions (all with --all).")
        @OptionGroup var options: ConfigurationOptions
        @Option(name: .long, help: "Only this user's sessions.") var user: String?
        @Flag(name: .long, help: "Include revoked and expired sessions.") var all = false

        func run() async throws {
            let services = try await CommandContext.services(options)
            var userID: String?
            if let user { userID = try await services.users.existing(user).id }
            let now = Date()
            let sessions = try await services.sessionStore.sessions(userID: userID, includeEnded: all, now: now)
            print(["SESSION", "USER", "CREATED", "LAST USED", "STATE", "ADDRESS"].joined(separator: "\t"))
            for session in sessions {
                let state = session.revokedAt != nil ? "revoked (\(session.revokedReason ?? "-"))" : (session.isActive(at: now) ? "active" : "expired")
                print(
                    [session.id, session.userID, ISO8601DateFormatter().string(from: session.createdAt), ISO8601DateFormatter().string(from: session.lastUsedAt), state, session.clientAddress]
                        .joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke one session, or every session of a user.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The session id.") var sessionID: String?
        @Option(name: .long, help: "Revoke every session of this user instead.") var user: String?

        func validate() throws {
            guard (sessionID == nil) != (user == nil) else {
                throw ValidationError("Give either a session id or --user NAME.")
            }
        }

        func run() async throws {
            let services = try await CommandContext.services(options)
            let now = Date()
            if let user {
                let account = try await services.users.existing(user)
                let revoked = try await services.sessions.revokeAll(
                    userID: account.id, reason: "admin_revoke",
                    event: AuditEvent(kind: "session.revoked", at: now, userID: account.id, username: account.username, detail: "admin"))
                print("revoked \(revoked.count) session(s) of \(account.username)")
            } else if let sessionID {
                guard let session = try await services.sessionStore.session(id: sessionID) else {
                    throw CommandError("No session \(sessionID).")
                }
                let changed = try await services.sessions.revoke(
                    sessionID: session.id, reason: "admin_revoke",
                    event: AuditEvent(kind: "session.revoked", at: now, userID: session.userID, sessionID: session.id, detail: "admin"))
                print(changed ? "revoked session \(session.id)" : "session \(session.id) was already revoked")
            }
        }
    }
}
