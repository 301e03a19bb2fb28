public import Logging
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes one line per log event to stderr, as logfmt or JSON (journald keeps stderr).
///
/// ```swift
/// LoggingSystem.bootstrap { LineLogHandler(label: $0, format: .logfmt, level: .info) }
/// ```
public struct LineLogHandler: LogHandler {
    /// The line format.
    public enum Format: String, Sendable {
        case logfmt
        case json
    }

    public var metadata: Logger.Metadata = [:]
    private var configuredLevel: Logger.Level
    private static let reloadedLevel = Mutex<Logger.Level?>(nil)

    /// The level in force: the one set by the last reload, else the configured one.
    public var logLevel: Logger.Level {
        get { Self.reloadedLevel.withLock { $0 } ?? configuredLevel }
        set { configuredLevel = newValue }
    }

    /// Changes the level of every handler at once (SIGHUP reload).
    public static func setLevel(_ level: Logger.Level) {
        reloadedLevel.withLock { $0 = level }
    }
    private let label: String
    private let format: Format
    private static let output = Mutex<Void>(())

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        self.configuredLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", Self.timestamp()), ("level", event.level.rawValue), ("logger", label), ("msg", "\(event.message)"),
        ]
        let merged = metadata.isEmpty ? event.metadata ?? [:] : metadata.merging(event.metadata ?? [:]) { $1 }
        fields.reserveCapacity(fields.count + merged.count)
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            fields.append((key, Self.text(of: value)))
        }
        var line = format == .json ? Self.json(fields) : Self.logfmt(fields)
        line += "\n"
        // One write(2) per line: lines from different threads never interleave.
        Self.output.withLock { _ in
            line.withUTF8 { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }

    /// A metadata value as text; strings as they are (the common case, no interpolation).
    static func text(of value: Logger.MetadataValue) -> String {
        if case .string(let string) = value { return string }
        return "\(value)"
    }

    static func logfmt(_ fields: [(String, String)]) -> String {
        // Bytes appended to one buffer, decoded once: String appends cost several hundred
        // instructions each, and this runs for every request.
        var line: [UInt8] = []
        line.reserveCapacity(fields.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 4 })
        for (position, (key, value)) in fields.enumerated() {
            if position > 0 { line.append(UInt8(ascii: " ")) }
            line.append(contentsOf: key.utf8)
            line.append(UInt8(ascii: "="))
            let needsQuotes =
                value.isEmpty
                || value.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 == 0x7F }
            if needsQuotes {
                var escaped = "\""
                appendEscaped(value, to: &escaped)
                escaped += "\""
                line.append(contentsOf: escaped.utf8)
            } else {
                line.append(contentsOf: value.utf8)
            }
        }
        return String(decoding: line, as: UTF8.self)
    }

    private static func appendEscaped(_ value: String, to line: inout String) {
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": line += "\\\\"
            case "\"": line += "\\\""
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    line += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    line.unicodeScalars.append(scalar)
                }
            }
        }
    }

    static func json(_ fields: [(String, String)]) -> String {
        let object = Dictionary(fields, uniquingKeysWith: { $1 })
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return logfmt(fields) }
        return text
    }

    /// RFC 3339 UTC time with milliseconds (`2026-11-27T05:33:13.234Z`), formatted by hand into
    /// one fixed buffer: this runs for every request.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fields: [(value: Int, width: Int, separator: UInt8)] = [
            (Int(parts.tm_year) + 1900, 4, UInt8(ascii: "-")), (Int(parts.tm_mon) + 1, 2, UInt8(ascii: "-")),
            (Int(parts.tm_mday), 2, UInt8(ascii: "T")), (Int(parts.tm_hour), 2, UInt8(ascii: ":")),
            (Int(parts.tm_min), 2, UInt8(ascii: ":")), (Int(parts.tm_sec), 2, UInt8(ascii: ".")),
            (Int(now.tv_nsec / 1_000_000), 3, UInt8(ascii: "Z")),
        ]
        return String(unsafeUninitializedCapacity: 24) { buffer in
            var end = 0
            for field in fields {
                var value = min(max(field.value, 0), field.width == 4 ? 9999 : field.width == 3 ? 999 : 99)
                for position in stride(from: end + field.width - 1, through: end, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                buffer[end + field.width] = field.separator
                end += field.width + 1
            }
            return end
        }
    }
}
