import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads a password from standard input (`--password-stdin`) or an interactive prompt with
/// echo turned off — never from argv, where `ps` and shell history would show it.
struct PasswordInput: ParsableArguments {
    @Flag(name: .long, help: "Read the password from standard input (one line) instead of prompting.")
    var passwordStdin = false

    func read(confirm: Bool) throws -> String {
        if passwordStdin {
            guard let line = readLine(strippingNewline: true) else {
                throw CommandError("No password on standard input.")
            }
            return line
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw CommandError("Standard input is not a terminal; pass --password-stdin to read the password from it.")
        }
        let password = try prompt("Password: ")
        if confirm {
            guard try prompt("Repeat password: ") == password else { throw CommandError("The passwords do not match.") }
        }
        return password
    }

    private func prompt(_ text: String) throws -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &original)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw CommandError("No password entered.") }
        return line
    }
}
