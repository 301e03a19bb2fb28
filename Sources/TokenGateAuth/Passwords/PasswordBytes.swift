#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Hands a password's UTF-8 bytes to C code through a buffer that is wiped afterwards.
///
/// The `String` itself cannot be wiped; this keeps at least the copies tokengate makes from lingering.
enum PasswordBytes {
    /// Calls `body` with a temporary copy of `password`'s UTF-8 bytes, then zeroes and frees the copy.
    static func withTemporaryCopy<Value>(
        of password: String, _ body: (UnsafeRawBufferPointer) throws -> Value
    ) rethrows -> Value {
        let count = password.utf8.count
        // Never zero bytes, so the base address is never nil.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 1)
        defer {
            wipe(buffer)
            buffer.deallocate()
        }
        buffer.copyBytes(from: password.utf8)
        return try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }

    /// Zeroes `buffer` in a way the optimiser may not remove.
    static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        #if canImport(Darwin)
            _ = memset_s(base, buffer.count, 0, buffer.count)
        #else
            explicit_bzero(base, buffer.count)
        #endif
    }
}
