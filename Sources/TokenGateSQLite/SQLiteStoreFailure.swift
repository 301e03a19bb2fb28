/// An inconsistency found by this module itself (not by SQLite); wrapped in `TokenGateError.internalError`.
struct SQLiteStoreFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
