internal import CFastCGI
import Foundation
import Logging
import TokenGateHTTP

#if canImport(Glibc)
import Glibc
#endif

/// One worker thread: owns an `FCGX_Request` for its lifetime and serves one request at a time.
struct Worker: Sendable {
    let index: Int
    let listenFD: Int32
    let reader: RequestReader
    let responder: any Responder
    let state: PoolState
    let idleTimeout: Duration
    /// Workers that must stay free to accept before this one may keep a connection open.
    let keepAliveReserve: Int
    let logger: Logger

    /// The worker loop; returns when the pool stops.
    func run() {
        let raw = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { raw.deallocate() }
        FCGX_InitRequest(raw, listenFD, FCGI_FAIL_ACCEPT_ON_INTR)
        // Threads started from Dispatch inherit a mask that blocks every signal; the stop path
        // interrupts `accept` with SIGUSR1, so this thread must receive it.
        var wake = sigset_t()
        sigemptyset(&wake)
        sigaddset(&wake, SIGUSR1)
        pthread_sigmask(SIG_UNBLOCK, &wake, nil)
        state.register(index, thread: pthread_self())
        let executor = WorkerExecutor()
        while true {
            // Finish the previous request first so we know whether its connection is kept alive.
            FCGX_Finish_r(raw)
            let keptFD = raw.pointee.ipcFd
            let inode = keptFD >= 0 ? PoolState.inode(of: keptFD) : 0
            guard state.set(index, .idle(fd: keptFD, inode: inode)) else { break }
            let status: Int32
            if keptFD < 0 {
                state.acceptLock.lock()
                status = FCGX_Accept_r(raw)
                state.acceptLock.unlock()
            } else {
                // A worker waiting on a kept-alive connection serves nobody else. While too few
                // workers wait in accept, wait only briefly: an idle connection is then closed
                // (nginx drops it from its cache) and this worker goes back to accepting, so new
                // connections — every auth_request opens one — never queue behind idle ones.
                let crowded = !state.mayKeepAlive(reserve: keepAliveReserve)
                setReceiveTimeout(keptFD, crowded ? Self.crowdedIdleTimeout : idleTimeout)
                // Reading the next request of a kept connection must not hold the accept lock.
                status = FCGX_Accept_r(raw)
            }
            guard status >= 0 else {
                if state.isStopping { break }
                let code = -status
                if code == EINVAL || code == EBADF || code == ENOTSOCK {
                    // The listening socket is gone or no longer listening: retrying cannot help.
                    logger.critical("accept failed permanently", metadata: ["error.errno": "\(code)"])
                    state.fail()
                    break
                }
                logger.error("accept failed", metadata: ["error.errno": "\(code)"])
                usleep(10_000)
                continue
            }
            _ = state.set(index, .busy)
            // Always: libfcgi may have closed the kept connection and accepted a new one that
            // got the same descriptor number, so "same fd" does not mean "same connection".
            applyTimeouts(raw.pointee.ipcFd)
            serve(raw, executor: executor)
        }
        FCGX_Finish_r(raw)
        FCGX_Free(raw, 1)
        _ = state.set(index, .exited)
    }

    private func serve(_ raw: UnsafeMutablePointer<FCGX_Request>, executor: WorkerExecutor) {
        let request = reader.read(raw)
        let responder = self.responder
        var response = executor.blockingAwait { await responder.respond(to: request) }
        if request.method == .head {
            if response.status.code != 204 && response.status.code != 304 {
                response.headers["Content-Length"] = String(response.body.count)
            }
            response.body = []
        }
        let bytes = response.serialized()
        let written = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                FCGX_PutStr($0, Int32(buffer.count), raw.pointee.out)
            }
        }
        if written < 0 {
            logger.debug("client went away before the response was written")
        }
        // An unread body would be taken for the next request's records: close instead of keeping alive.
        if request.isBodyTooLarge {
            raw.pointee.keepConnection = 0
        }
    }

    /// How long a kept connection may stay idle while the pool is short of accepting workers.
    static let crowdedIdleTimeout: Duration = .milliseconds(250)

    /// Bounds how long an idle kept-alive connection (or a stalled peer) can pin this worker.
    private func applyTimeouts(_ fd: Int32) {
        guard fd >= 0 else { return }
        setReceiveTimeout(fd, idleTimeout)
        var value = Self.timeval(idleTimeout)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private func setReceiveTimeout(_ fd: Int32, _ duration: Duration) {
        var value = Self.timeval(duration)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func timeval(_ duration: Duration) -> timeval {
        let micros = duration.components.attoseconds / 1_000_000_000_000
        return Glibc.timeval(tv_sec: Int(duration.components.seconds), tv_usec: Int(micros))
    }
}
