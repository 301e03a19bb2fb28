import TokenGateHTTP

/// Form and query decoding (`FormURLEncoding`): decoded names are never empty; re-encoding
/// what was decoded decodes to the same pairs; percent-encoding round-trips any string and
/// produces only unreserved characters and `%XX`.
struct FormFuzzTarget: FuzzTarget {
    static let name = "form"

    func run(_ data: [UInt8]) {
        let text = String(fuzzBytes: data)
        if let pairs = FormURLEncoding.decode(body: data) {
            FuzzCheck.require(pairs.allSatisfy { !$0.name.isEmpty }, "empty form field name")
            let again = FormURLEncoding.decode(FormURLEncoding.encode(pairs.map { ($0.name, $0.value) }))
            FuzzCheck.require(again.count == pairs.count, "re-encoding changed the number of pairs")
            for (a, b) in zip(pairs, again) {
                FuzzCheck.require(a.name == b.name && a.value == b.value, "re-encoding changed a pair")
            }
        } else {
            FuzzCheck.require(String(validating: data, as: UTF8.self) == nil, "valid UTF-8 body refused")
        }
        let query = Request(method: .get, path: "/refresh", query: text)
        FuzzCheck.require(query.queryItems.count == FormURLEncoding.decode(text).count, "queryItems differs")
        let encoded = FormURLEncoding.percentEncode(text)
        FuzzCheck.require(
            encoded.utf8.allSatisfy { Self.isEncodedOutput($0) }, "percentEncode produced \(encoded.debugDescription)")
        FuzzCheck.require(FormURLEncoding.percentDecode(encoded) == text, "percent-encoding does not round-trip")
        if let decoded = FormURLEncoding.percentDecode(text, plusAsSpace: true) {
            FuzzCheck.require(decoded.utf8.count <= text.utf8.count, "decoding grew the text")
        }
    }

    private static func isEncodedOutput(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "%"):
            true
        default:
            false
        }
    }
}
