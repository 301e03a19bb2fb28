// swift-tools-version:6.1
import Foundation
import PackageDescription

/// The fuzz targets of tokengate (libFuzzer). Built only by `Tests/Fuzz/run`, with
/// `-sanitize=fuzzer,address` and its own scratch path (`.build-fuzz`); the root package
/// never sees this one, so `swift build` / `swift test` at the root are unaffected.
///
/// The root package is a path dependency; its identity is its directory's name, which differs
/// between clones, so it is read from this file's location.
let rootName = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .standardizedFileURL.lastPathComponent

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "tokengate-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "TokenGateFuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "TokenGateHTTP", package: rootName),
                .product(name: "TokenGateAuth", package: rootName),
                .product(name: "TokenGateAPI", package: rootName),
                .product(name: "FastCGI", package: rootName),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The entry point is `TokenGateFuzz_main` (FuzzEntry.swift), which runs libFuzzer's
            // driver; the code under test is reached through `@testable import`, which debug
            // builds allow (`-enable-testing`).
            swiftSettings: strictSettings + [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
