/// Where the FastCGI server listens.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// A unix socket at `path`, created with file mode `mode` (e.g. `0o660`).
    case unix(path: String, mode: UInt32)
    /// A TCP socket; for loopback or a private network only (FastCGI has no authentication).
    case tcp(host: String, port: Int)
    /// A listening socket inherited on file descriptor 0 (spawn-fcgi, systemd `StandardInput=socket`).
    case inherited

    /// Parses `unix:/run/x.sock`, a path starting with `/`, `host:port`, or `fd:0`.
    ///
    /// - Parameter mode: the file mode for a unix socket.
    /// - Returns: `nil` when `string` is none of these forms.
    public static func parse(_ string: String, mode: UInt32 = 0o660) -> ListenAddress? {
        if string == "fd:0" || string == "inherited" { return .inherited }
        if string.hasPrefix("unix:") {
            let path = String(string.dropFirst(5))
            return path.hasPrefix("/") ? .unix(path: path, mode: mode) : nil
        }
        if string.hasPrefix("/") { return .unix(path: string, mode: mode) }
        // Only fd 0 can be inherited (spawn-fcgi and systemd's StandardInput=socket use it).
        if string.hasPrefix("fd:") { return nil }
        guard let colon = string.lastIndex(of: ":") else { return nil }
        var host = String(string[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(string[string.index(after: colon)...]), (1...65535).contains(port), !host.isEmpty
        else { return nil }
        return .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .unix(let path, let mode): "unix:\(path) (mode \(String(mode, radix: 8)))"
        case .tcp(let host, let port): "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .inherited: "fd:0"
        }
    }
}
