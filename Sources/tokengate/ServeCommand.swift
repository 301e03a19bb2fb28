import ArgumentParser
import Foundation
import Logging
import Metrics
import TokenGateApp

/// `tokengate serve`: runs the FastCGI worker pool until SIGTERM/SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the auth endpoints over FastCGI.",
        discussion: """
            Listens on fastcgi.listen (a unix socket by default, `host:port`, or `fd:0` for a socket \
            inherited from spawn-fcgi or systemd). SIGTERM/SIGINT stop accepting and drain in-flight \
            requests; SIGHUP reloads keys and settings that need no new socket.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .long, help: "Listen address (overrides fastcgi.listen): unix:/path, host:port or fd:0.")
    var listen: String?

    @Option(name: .long, help: "Worker threads (overrides fastcgi.workers).")
    var workers: Int?

    func run() async throws {
        var overrides: [String: String] = [:]
        if let listen { overrides["fastcgi.listen"] = listen }
        if let workers { overrides["fastcgi.workers"] = String(workers) }
        let flags = overrides
        let options = self.options
        let configuration = try options.load(overrides: flags)
        LoggingSystem.bootstrap { label in
            LineLogHandler(
                label: label, format: LineLogHandler.Format(rawValue: configuration.logFormat) ?? .logfmt,
                level: configuration.logLevel)
        }
        let logger = Logger(label: "tokengate.serve")
        MallocTuning.apply()
        let application: TokenGateApplication
        do {
            application = try await TokenGateApplication(configuration: configuration, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        MetricsSystem.bootstrap(application.metricsFactory)
        application.primeMetrics()
        SignalWaiter.start { event in
            switch event {
            case .stop(let signal):
                logger.info("stopping", metadata: ["signal": "\(signal)"])
                application.stop()
            case .reload:
                application.reload { try options.load(overrides: flags) }
            }
        }
        let drained = await Task.detached { application.run() }.value
        if !drained { throw ExitCode(1) }
    }
}
