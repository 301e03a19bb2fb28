import Foundation

/// The strictness RFC 7515 §4 and RFC 7519 §7.2 ask of a JOSE header and a claims set, which
/// Foundation's `JSONDecoder` does not enforce: it accepts invalid UTF-8 inside strings, and of
/// duplicate member names it keeps the *first*, where other JWT libraries keep the last. A token
/// such as `{"sub":"u-1","sub":"admin"}` would then mean one thing to tokengate and another to a
/// service verifying it with the JWKS, so tokengate refuses both instead.
///
/// ```swift
/// StrictJSONObject.isAcceptable(Array(#"{"kid":"a","typ":"at+jwt"}"#.utf8))   // true
/// StrictJSONObject.isAcceptable(Array(#"{"kid":"a","kid":"b"}"#.utf8))        // false
/// ```
///
/// Syntax is left to the decoder that runs next; this only scans the top level of what may be
/// valid JSON and answers `false` for anything it cannot follow.
enum StrictJSONObject {
    /// Whether `bytes` are valid UTF-8 and, if they are a JSON object, its member names are unique
    /// (compared after unescaping, so `"k\u0069d"` is `kid`).
    static func isAcceptable(_ bytes: [UInt8]) -> Bool {
        guard String(validating: bytes, as: UTF8.self) != nil else { return false }
        var scanner = Scanner(bytes: bytes)
        return scanner.memberNamesAreUnique()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func memberNamesAreUnique() -> Bool {
            skipWhitespace()
            guard take(UInt8(ascii: "{")) else { return false }
            var names = Set<String>()
            skipWhitespace()
            if take(UInt8(ascii: "}")) { return true }
            while true {
                skipWhitespace()
                guard let name = memberName(), names.insert(name).inserted else { return false }
                skipWhitespace()
                guard take(UInt8(ascii: ":")), skipValue() else { return false }
                skipWhitespace()
                if take(UInt8(ascii: ",")) { continue }
                return take(UInt8(ascii: "}"))
            }
        }

        /// A member name, unescaped; `nil` when the next token is not a string.
        private mutating func memberName() -> String? {
            guard let (start, end, escaped) = skipString() else { return nil }
            guard escaped else { return String(decoding: bytes[(start + 1)..<(end - 1)], as: UTF8.self) }
            // Escapes are rare in member names: let the JSON decoder unescape the quoted token.
            return try? JSONDecoder().decode(String.self, from: Data(bytes[start..<end]))
        }

        /// Skips one value of any kind at the current position (nested objects and arrays whole).
        private mutating func skipValue() -> Bool {
            skipWhitespace()
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard skipString() != nil else { return false }
                    if depth == 0 { return true }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return true }  // the end of the enclosing object
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                case UInt8(ascii: ","):
                    if depth == 0 { return true }
                default:
                    break
                }
                index += 1
            }
            return false
        }

        /// Skips a string token; returns its bounds (quotes included) and whether it holds escapes.
        private mutating func skipString() -> (start: Int, end: Int, escaped: Bool)? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let start = index
            var escaped = false
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"):
                    escaped = true
                    index += 2
                case UInt8(ascii: "\""):
                    index += 1
                    return (start, index, escaped)
                default:
                    index += 1
                }
            }
            return nil
        }

        private mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        private mutating func skipWhitespace() {
            while index < bytes.count,
                [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(bytes[index])
            {
                index += 1
            }
        }
    }
}
