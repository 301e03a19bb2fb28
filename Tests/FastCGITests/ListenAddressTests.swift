import FastCGI
import Testing

@Suite struct ListenAddressTests {
    @Test(arguments: [
        ("unix:/run/tokengate/tokengate.sock", ListenAddress.unix(path: "/run/tokengate/tokengate.sock", mode: 0o660)),
        ("/run/tg.sock", .unix(path: "/run/tg.sock", mode: 0o660)),
        ("127.0.0.1:9000", .tcp(host: "127.0.0.1", port: 9000)),
        ("localhost:1", .tcp(host: "localhost", port: 1)),
        ("[::1]:9000", .tcp(host: "::1", port: 9000)),
        ("10.0.0.1:65535", .tcp(host: "10.0.0.1", port: 65535)),
        ("fd:0", .inherited),
        ("inherited", .inherited),
    ])
    func validAddressesParse(text: String, expected: ListenAddress) {
        #expect(ListenAddress.parse(text) == expected)
    }

    @Test(arguments: [
        "", "unix:", "unix:relative.sock", "relative.sock", "localhost", "localhost:", ":9000", "host:0", "host:65536",
        "host:-1", "host:http", "[]:9000",
    ])
    func invalidAddressesDoNotParse(text: String) {
        #expect(ListenAddress.parse(text) == nil)
    }

    @Test func modeIsUsedForUnixSockets() {
        #expect(ListenAddress.parse("unix:/run/x.sock", mode: 0o600) == .unix(path: "/run/x.sock", mode: 0o600))
    }

    @Test func descriptionNamesTheAddress() {
        #expect(ListenAddress.unix(path: "/run/x.sock", mode: 0o660).description == "unix:/run/x.sock (mode 660)")
        #expect(ListenAddress.tcp(host: "::1", port: 9000).description == "[::1]:9000")
        #expect(ListenAddress.tcp(host: "127.0.0.1", port: 9000).description == "127.0.0.1:9000")
        #expect(ListenAddress.inherited.description == "fd:0")
    }
}
