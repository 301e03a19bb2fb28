// swift-tools-version:6.1
import PackageDescription

/// Upcoming features every tokengate target enables (see STYLE.md).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "tokengate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tokengate", targets: ["tokengate"]),
        // For the fuzz package (Tests/Fuzz), which depends on this one by path.
        .library(name: "TokenGateHTTP", targets: ["TokenGateHTTP"]),
        .library(name: "TokenGateAuth", targets: ["TokenGateAuth"]),
        .library(name: "TokenGateAPI", targets: ["TokenGateAPI"]),
        .library(name: "FastCGI", targets: ["FastCGI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CFastCGI",
            pkgConfig: "fcgi",
            providers: [.apt(["libfcgi-dev"])]
        ),
        .systemLibrary(
            name: "CArgon2",
            pkgConfig: "libargon2",
            providers: [.apt(["libargon2-dev"])]
        ),
        .target(
            name: "TokenGateHTTP",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "FastCGI",
            dependencies: [
                "CFastCGI",
                "TokenGateHTTP",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TokenGateAuth",
            dependencies: [
                "CArgon2",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TokenGateSQLite",
            dependencies: [
                "TokenGateAuth",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TokenGatePostgres",
            dependencies: [
                "TokenGateAuth",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TokenGateAPI",
            dependencies: [
                "TokenGateHTTP",
                "TokenGateAuth",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TokenGateApp",
            dependencies: [
                "FastCGI",
                "TokenGateHTTP",
                "TokenGateAuth",
                "TokenGateSQLite",
                "TokenGatePostgres",
                "TokenGateAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "tokengate",
            dependencies: [
                "TokenGateApp",
                "TokenGateAuth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TokenGateHTTPTests",
            dependencies: ["TokenGateHTTP"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FastCGITests",
            dependencies: [
                "FastCGI",
                "TokenGateHTTP",
                "TokenGateAPI",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TokenGateAuthTests",
            dependencies: ["TokenGateAuth", "TokenGateSQLite"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TokenGateSQLiteTests",
            dependencies: ["TokenGateSQLite", "TokenGateAuth"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TokenGateAPITests",
            dependencies: [
                "TokenGateAPI",
                "TokenGateHTTP",
                "TokenGateAuth",
                "TokenGateApp",
                "TokenGatePostgres",
                "FastCGI",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
