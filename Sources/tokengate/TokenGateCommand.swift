import ArgumentParser
import Dispatch
import TokenGateApp

/// The `tokengate` command line: the server and its administration.
struct TokenGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokengate",
        abstract: "A login and token service behind nginx (FastCGI + auth_request).",
        subcommands: [
            ServeCommand.self, UserCommand.self, SessionCommand.self, KeyCommand.self, ConfigCommand.self,
            MigrateCommand.self, BackupCommand.self,
        ]
    )
}

/// The process entry point.
@main
enum Entry {
    static func main() {
        // Block the stop/reload signals before any other thread exists, so every thread
        // inherits the mask and only the dedicated sigwait thread ever receives them.
        SignalWaiter.blockSignals()
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            await TokenGateCommand.main()
            finished.signal()
        }
        finished.wait()
    }
}
