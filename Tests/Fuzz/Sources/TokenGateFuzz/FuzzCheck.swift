import Dispatch
import Foundation
import Synchronization

/// Invariant checks and small helpers shared by the targets.
enum FuzzCheck {
    /// Traps with `message` when `condition` is false (libFuzzer then saves the input).
    static func require(
        _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
    ) {
        if !condition {
            FileHandle.standardError.write(Data("INVARIANT BROKEN (\(file):\(line)): \(message())\n".utf8))
            fatalError("invariant broken", file: file, line: line)
        }
    }

    /// Whether every byte of `value` is printable ASCII (0x20–0x7E): safe in a header or `Location`.
    static func isPrintableASCII(_ value: some StringProtocol) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// Runs `body` on the cooperative pool and waits for it: the targets are synchronous,
    /// the token path is async (jwt-kit).
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            let value = await body()
            box.value.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return box.value.withLock { $0! }
    }

    private final class ResultBox<T: Sendable>: Sendable {
        let value = Mutex<T?>(nil)
    }
}

/// Reads a structured input: a few selector bytes, then the rest as data.
struct FuzzInput {
    private var bytes: ArraySlice<UInt8>

    init(_ data: [UInt8]) {
        bytes = data[...]
    }

    /// The next byte, or 0 at the end.
    mutating func byte() -> UInt8 {
        bytes.popFirst() ?? 0
    }

    /// Everything not read yet.
    var rest: [UInt8] { Array(bytes) }

    /// The unread bytes split at every `separator` (empty parts kept).
    func parts(separatedBy separator: UInt8) -> [[UInt8]] {
        bytes.split(separator: separator, omittingEmptySubsequences: false).map(Array.init)
    }
}

extension String {
    /// The bytes as a string, invalid UTF-8 replaced (as the FastCGI reader does with params).
    init(fuzzBytes bytes: some Collection<UInt8>) {
        self = String(decoding: bytes, as: UTF8.self)
    }
}
