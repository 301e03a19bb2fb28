import TokenGateHTTP

/// The client's address: `REMOTE_ADDR`, or the last `X-Forwarded-For` hop when the peer is a
/// configured proxy (the shipped nginx sets, never appends, that header).
struct ClientAddress {
    let trustedProxies: [String]

    func of(_ request: Request) -> String {
        let peer = request.remoteAddress
        guard trustedProxies.contains(peer), let forwarded = request.headers.first("X-Forwarded-For") else {
            return peer.isEmpty ? "unknown" : peer
        }
        let last = forwarded.split(separator: ",").last.map { $0.trimmingASCIIWhitespace() } ?? ""
        let isPlausible = !last.isEmpty && last.count <= 45 && last.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
        return isPlausible ? last : peer
    }
}
