/// Keeps the server's resident size from ratcheting up after logins.
///
/// Each Argon2id hash allocates `passwords.memory` (19 MiB by default) and frees it. glibc
/// serves such blocks with `mmap` and returns them on `free`, but after the first free it
/// raises its mmap threshold to the block's size, so every later hash is carved from a heap
/// arena that keeps the pages: measured, 34 MiB after start became 73 MiB after about a
/// hundred logins with two hashing threads. A fixed threshold keeps large blocks on `mmap`.
public enum MallocTuning {
    /// Blocks of this size or more always come from `mmap` and go back to the system on `free`.
    public static let mmapThreshold: Int32 = 1 << 20

    /// Call once at start, before the worker and hashing threads exist.
    public static func apply() {
        #if os(Linux)
        _ = glibcMallopt(mmapThresholdParameter, mmapThreshold)
        #endif
    }

    /// `M_MMAP_THRESHOLD` from glibc's `<malloc.h>`, which the Glibc module does not export.
    private static let mmapThresholdParameter: Int32 = -3
}

#if os(Linux)
/// glibc's `int mallopt(int param, int value)` (`<malloc.h>`).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
