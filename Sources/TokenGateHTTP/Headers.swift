/// An ordered list of HTTP header fields with case-insensitive lookup.
///
/// ```swift
/// var headers = Headers()
/// headers.add("Set-Cookie", "a=1")
/// headers.add("Set-Cookie", "b=2")   // several fields of one name are kept
/// headers["content-type"] = "application/json"
/// ```
public struct Headers: Sendable, Equatable, Sequence {
    /// The fields in the order they were added; names keep the spelling they were given.
    public private(set) var fields: [(name: String, value: String)]

    /// Creates an empty header list, or one with the given fields.
    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// The first value of a field, or `nil`; setting replaces every field of that name.
    public subscript(name: String) -> String? {
        get { first(name) }
        set {
            remove(name)
            if let newValue { add(name, newValue) }
        }
    }

    /// The first value of a field named `name` (case-insensitive).
    public func first(_ name: String) -> String? {
        fields.first { $0.name.isEqualIgnoringASCIICase(name) }?.value
    }

    /// Every value of the fields named `name`, in order.
    public func all(_ name: String) -> [String] {
        fields.filter { $0.name.isEqualIgnoringASCIICase(name) }.map(\.value)
    }

    /// Appends a field, keeping existing fields of the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.isEqualIgnoringASCIICase(name) }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    public static func == (lhs: Headers, rhs: Headers) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}

extension String {
    /// Compares two strings byte for byte, ignoring ASCII case (header names, schemes).
    package func isEqualIgnoringASCIICase(_ other: String) -> Bool {
        let lhs = self.utf8
        let rhs = other.utf8
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).allSatisfy { Self.lowercasedASCII($0) == Self.lowercasedASCII($1) }
    }

    /// Returns whether the string begins with `prefix`, ignoring ASCII case.
    package func hasPrefixIgnoringASCIICase(_ prefix: String) -> Bool {
        let lhs = self.utf8
        let rhs = prefix.utf8
        guard lhs.count >= rhs.count else { return false }
        return zip(lhs, rhs).allSatisfy { Self.lowercasedASCII($0) == Self.lowercasedASCII($1) }
    }

    private static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte + 0x20 : byte
    }
}
