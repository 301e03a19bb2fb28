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
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() {
            fields.append((key, "\(merged[key]!)"))
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

    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let needsQuotes =
                value.isEmpty
                || value.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 == 0x7F }
            if !needsQuotes { return "\(key)=\(value)" }
            var escaped = ""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                case "\r": escaped += "\\r"
                case "\t": escaped += "\\t"
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7F {
                        escaped += "\\u{\(String(scalar.value, radix: 16))}"
                    } else {
                        escaped.unicodeScalars.append(scalar)
                    }
                }
            }
            return "\(key)=\"\(escaped)\""
        }.joined(separator: " ")
    }

    static func json(_ fields: [(String, String)]) -> String {
        let object = Dictionary(fields, uniquingKeysWith: { $1 })
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return logfmt(fields) }
        return text
    }

    /// RFC 3339 UTC time with milliseconds, formatted by hand: this runs for every request.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "."
            + pad(Int32(now.tv_nsec / 1_000_000), 3) + "Z"
    }
}
