#if canImport(Glibc)
import Glibc
#endif

/// Owns the one listening socket the workers accept on.
///
/// A unix socket left behind by a crash is replaced, but only after checking that nothing
/// answers on it; the socket file is removed on close only if it is still the one we made.
final class Listener: Sendable {
    let address: ListenAddress
    let fd: Int32
    private let socketInode: UInt?

    /// Opens (or adopts) the listening socket.
    /// - Throws: `ListenerError` naming the failing step.
    init(address: ListenAddress, backlog: Int32) throws {
        self.address = address
        switch address {
        case .unix(let path, let mode):
            (fd, socketInode) = try Self.openUnix(path: path, mode: mode, backlog: backlog)
        case .tcp(let host, let port):
            fd = try Self.openTCP(host: host, port: port, backlog: backlog)
            socketInode = nil
        case .inherited:
            fd = try Self.adoptInherited()
            socketInode = nil
        }
    }

    /// Makes every thread blocked in `accept` on this socket return.
    func wakeAcceptors() {
        _ = shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Closes the socket and removes its file if it is still ours.
    func close() {
        // An inherited socket stays open for the process that handed it over (systemd keeps it).
        if case .inherited = address { return }
        _ = Glibc.close(fd)
        if case .unix(let path, _) = address, let inode = socketInode {
            var info = stat()
            if lstat(path, &info) == 0, UInt(info.st_ino) == inode {
                unlink(path)
            }
        }
    }

    private static func openUnix(path: String, mode: UInt32, backlog: Int32) throws -> (Int32, UInt?) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw ListenerError(operation: "listen unix:\(path)", code: 0, message: "path is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        try removeStaleSocket(path: path, address: address)

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw systemError("socket unix:\(path)") }
        // The file's mode comes from the umask at bind time; narrow it for this one call so the
        // socket is never briefly wider than requested.
        let previousMask = umask(mode_t(0o777 & ~mode))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previousMask)
        guard bound == 0 else {
            let error = systemError("bind unix:\(path)")
            _ = Glibc.close(fd)
            throw error
        }
        _ = chmod(path, mode_t(mode))
        guard listen(fd, backlog) == 0 else {
            let error = systemError("listen unix:\(path)")
            _ = Glibc.close(fd)
            unlink(path)
            throw error
        }
        var info = stat()
        let inode: UInt? = lstat(path, &info) == 0 ? UInt(info.st_ino) : nil
        return (fd, inode)
    }

    /// Removes a socket file nobody listens on; refuses to touch a live socket or a non-socket.
    private static func removeStaleSocket(path: String, address: sockaddr_un) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw ListenerError(operation: "listen unix:\(path)", code: EEXIST, message: "the path exists and is not a socket")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw systemError("socket unix:\(path)") }
        defer { _ = Glibc.close(probe) }
        var target = address
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected == 0 {
            throw ListenerError(
                operation: "listen unix:\(path)", code: EADDRINUSE,
                message: "another process is listening on this socket; stop it first")
        }
        // ECONNREFUSED: a socket file left behind by a process that died. Safe to replace.
        guard errno == ECONNREFUSED, unlink(path) == 0 else {
            throw systemError("replace stale socket unix:\(path)")
        }
    }

    private static func openTCP(host: String, port: Int, backlog: Int32) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let info = result else {
            throw ListenerError(
                operation: "listen \(host):\(port)", code: status,
                message: "cannot resolve host: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw systemError("socket \(host):\(port)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, backlog) == 0 else {
            let error = systemError("bind \(host):\(port)")
            _ = Glibc.close(fd)
            throw error
        }
        return fd
    }

    private static func adoptInherited() throws -> Int32 {
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0, accepting == 1 else {
            throw ListenerError(
                operation: "listen fd:0", code: ENOTSOCK,
                message: "standard input is not a listening socket (start under spawn-fcgi or a systemd socket unit)")
        }
        return 0
    }

    private static func systemError(_ operation: String) -> ListenerError {
        let code = errno
        return ListenerError(operation: operation, code: code, message: String(cString: strerror(code)))
    }
}
