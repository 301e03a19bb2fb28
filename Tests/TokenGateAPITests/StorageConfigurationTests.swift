import Foundation
import Testing
import TokenGateApp
import TokenGatePostgres

/// `storage.url` and its companions select and describe the PostgreSQL store.
@Suite struct StorageConfigurationTests {
    /// An empty configuration file, so the machine's /etc/tokengate/tokengate.conf is never read.
    private static let emptyFile: String = {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokengate-storage-configuration-\(UUID().uuidString).conf").path
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        return path
    }()

    private func configuration(_ values: [String: String]) throws -> TokenGateConfiguration {
        var overrides = ["storage.directory": "/tmp/tokengate-storage-configuration-tests"]
        overrides.merge(values) { $1 }
        return try TokenGateConfiguration(environment: [:], file: Self.emptyFile, overrides: overrides)
    }

    private func problemKey(_ values: [String: String]) -> String? {
        do {
            _ = try configuration(values)
            return nil
        } catch let error as ConfigurationError {
            return error.key
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func sqliteIsTheDefault() throws {
        #expect(try configuration([:]).postgres == nil)
    }

    @Test func postgresURLIsParsedWithItsCompanions() throws {
        let settings = try #require(
            try configuration([
                "storage.url": "postgres://tg:s3cret@db.internal:6432/tokens", "storage.tls": "require",
                "storage.poolSize": "12", "storage.connectTimeout": "5s",
            ]).postgres)
        #expect(settings.host == "db.internal")
        #expect(settings.port == 6432)
        #expect(settings.username == "tg")
        #expect(settings.password == "s3cret")
        #expect(settings.database == "tokens")
        #expect(settings.tls == .require)
        #expect(settings.poolSize == 12)
        #expect(settings.connectTimeout == .seconds(5))
    }

    @Test func defaultPortAndTLS() throws {
        let settings = try #require(try configuration(["storage.url": "postgresql://tg@db/tokens"]).postgres)
        #expect(settings.port == 5432)
        #expect(settings.tls == .prefer)
        #expect(settings.password == nil)
    }

    @Test func passwordFileWinsOverTheURL() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pg-password-\(UUID().uuidString)")
        try "from-file\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let settings = try #require(
            try configuration(["storage.url": "postgres://tg:in-url@db/tokens", "storage.passwordFile": file.path])
                .postgres)
        #expect(settings.password == "from-file")
    }

    @Test(arguments: [
        "mysql://tg@db/tokens", "postgres://db/tokens", "postgres://tg@db", "postgres://tg@db/", "postgres://tg@:5432/x",
        "not a url",
    ])
    func malformedURLNamesTheKey(url: String) {
        #expect(problemKey(["storage.url": url]) == "storage.url")
    }

    @Test func unknownTLSModeNamesTheKey() {
        #expect(problemKey(["storage.url": "postgres://tg@db/tokens", "storage.tls": "verify-full"]) == "storage.tls")
    }

    @Test func unreadablePasswordFileNamesTheKey() {
        #expect(
            problemKey(["storage.url": "postgres://tg@db/tokens", "storage.passwordFile": "/nonexistent/password"])
                == "storage.passwordFile")
    }

    @Test func poolSizeOutOfRangeNamesTheKey() {
        #expect(problemKey(["storage.url": "postgres://tg@db/tokens", "storage.poolSize": "0"]) == "storage.poolSize")
    }

    @Test func describeRedactsThePassword() throws {
        let text = try configuration(["storage.url": "postgres://tg:s3cret@db.internal/tokens"]).describe()
        #expect(!text.contains("s3cret"))
        #expect(text.contains("storage.url = postgres://tg:redacted@db.internal/tokens"))
    }

    @Test func revocationIntervalIsConfigurable() throws {
        #expect(try configuration([:]).revocationInterval == 1)
        #expect(try configuration(["revocation.interval": "2s"]).revocationInterval == 2)
        #expect(problemKey(["revocation.interval": "0s"]) == "revocation.interval")
    }
}
