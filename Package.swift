// swift-tools-version: 6.1
import PackageDescription

/// Settings every Swift target shares: strict Swift 6 and explicit imports.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "meshline",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeshlineModels", targets: ["MeshlineModels"]),
        .library(name: "MeshlineRPC", targets: ["MeshlineRPC", "MeshlineHTTP2"]),
        .executable(name: "meshline", targets: ["meshline"]),
        .executable(name: "meshline-registry", targets: ["meshline-registry"]),
        .executable(name: "meshline-decision", targets: ["meshline-decision"]),
        .executable(name: "meshline-exceptions", targets: ["meshline-exceptions"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries from Debian's packages, wrapped as Swift modules. Nothing of them is vendored.
        .systemLibrary(
            name: "CNghttp2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        // protoc-c output for proto/, committed; regenerate with scripts/generate-proto.
        .target(
            name: "MeshlineProtoC",
            dependencies: ["CProtobufC"],
            cSettings: [.unsafeFlags(["-w"])]
        ),
        // Swift value types for the contract and their protobuf-c bridging.
        .target(
            name: "MeshlineModels",
            dependencies: ["MeshlineProtoC", "CProtobufC"],
            exclude: ["Design.md"],
            swiftSettings: strictSettings
        ),
        // gRPC semantics without a transport: status, metadata, framing, handlers, health.
        .target(
            name: "MeshlineRPC",
            dependencies: ["MeshlineModels"],
            swiftSettings: strictSettings
        ),
        // The gRPC transport: HTTP/2 by nghttp2 over SwiftNIO sockets, server and client.
        .target(
            name: "MeshlineHTTP2",
            dependencies: [
                "MeshlineRPC", "MeshlineModels", "CNghttp2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Design.md"],
            swiftSettings: strictSettings
        ),
        // What the registry's and the router's stores share: durable SQLite settings, the
        // group-commit thread, direct statement binding, PostgreSQL URLs.
        .target(
            name: "MeshlineStorage",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The export registry: append-only storage, QA gate, Watch, acknowledgements, overrides.
        .target(
            name: "MeshlineRegistry",
            dependencies: [
                "MeshlineModels", "MeshlineRPC", "MeshlineStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Design.md"],
            swiftSettings: strictSettings
        ),
        // What every service process shares: flags, API keys and rate limits, metrics and
        // the admin endpoint, OTLP span export, and the run loop that drains on SIGTERM.
        .target(
            name: "MeshlineService",
            dependencies: [
                "MeshlineModels", "MeshlineRPC", "MeshlineHTTP2",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // The decision service: rule sets, the deterministic engine, inventory view, DecisionService.
        .target(
            name: "MeshlineDecision",
            dependencies: [
                "MeshlineModels", "MeshlineRPC", "MeshlineHTTP2",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Design.md"],
            swiftSettings: strictSettings
        ),
        // The exception router: cases, retries, human queues, backorders, notifications.
        .target(
            name: "MeshlineExceptions",
            dependencies: [
                "MeshlineModels", "MeshlineRPC", "MeshlineHTTP2", "MeshlineStorage",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Design.md"],
            swiftSettings: strictSettings
        ),
        // The Echo test service, served by transport tests and benchmarks.
        .target(
            name: "MeshlineEcho",
            dependencies: ["MeshlineRPC", "MeshlineModels"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline",
            dependencies: [
                "MeshlineDecision", "MeshlineModels", "MeshlineRegistry", "MeshlineRPC", "MeshlineHTTP2", "MeshlineService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline-registry",
            dependencies: [
                "MeshlineRegistry", "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels", "MeshlineService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "services/registry",
            exclude: ["tenants.example.json", "Dockerfile"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline-decision",
            dependencies: [
                "MeshlineService",
                "MeshlineDecision", "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "services/decision",
            exclude: ["rules.example.yaml", "Dockerfile"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline-exceptions",
            dependencies: [
                "MeshlineService",
                "MeshlineExceptions", "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "services/exceptions",
            exclude: ["policy.example.json", "Dockerfile"],
            swiftSettings: strictSettings
        ),
        // Benchmarks: release-mode executables, run by the scripts under bench/.
        .executableTarget(
            name: "meshline-bench-models",
            dependencies: ["MeshlineModels", "MeshlineProtoC", "CProtobufC"],
            path: "bench/models/Sources",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline-bench-rpc-server",
            dependencies: [
                "MeshlineHTTP2", "MeshlineEcho", "MeshlineService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/rpc/Sources",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline-bench-registry",
            dependencies: [
                "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels", "MeshlineStorage", "MeshlineRegistry",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "bench/registry/Sources",
            swiftSettings: strictSettings
        ),
        // Orders per second from Decide to export accepted through the running services (bench/mesh/run).
        .executableTarget(
            name: "meshline-bench-mesh",
            dependencies: ["MeshlineHTTP2", "MeshlineRPC", "MeshlineModels"],
            path: "bench/mesh/Sources",
            swiftSettings: strictSettings
        ),
        // Bounded mutation fuzzing of protobuf decoding and the HTTP/2 frame path (scripts/fuzz).
        .executableTarget(
            name: "meshline-fuzz",
            dependencies: ["MeshlineModels", "MeshlineHTTP2"],
            path: "fuzz",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline-bench-exceptions",
            dependencies: [
                "MeshlineExceptions", "MeshlineRegistry", "MeshlineDecision", "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels",
            ],
            path: "bench/exceptions/Sources",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline-bench-rpc-client",
            dependencies: ["MeshlineHTTP2", "MeshlineRPC", "MeshlineModels"],
            path: "bench/rpc/Client",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshline-bench-decision",
            dependencies: [
                "MeshlineDecision", "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels", "MeshlineEcho", "MeshlineTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "bench/decision/Sources",
            swiftSettings: strictSettings
        ),
        // Helpers the test targets (and benchmarks) share: running scripts and Python peers, seeded randomness.
        .target(
            name: "MeshlineTestSupport",
            path: "Tests/Support",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshlineModelsTests",
            dependencies: ["MeshlineModels", "MeshlineTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshlineRPCTests",
            dependencies: ["MeshlineRPC", "MeshlineHTTP2", "MeshlineModels", "MeshlineEcho", "MeshlineTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshlineRegistryTests",
            dependencies: [
                "MeshlineRegistry", "MeshlineStorage", "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels", "MeshlineTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // Service plumbing (API keys, rate limits, metrics, tracing) on real service processes.
        .testTarget(
            name: "MeshlineServiceTests",
            dependencies: ["MeshlineModels", "MeshlineRPC", "MeshlineHTTP2", "MeshlineService", "MeshlineTestSupport"],
            swiftSettings: strictSettings
        ),
        // The meshline CLI as a user runs it, against real service processes.
        .testTarget(
            name: "MeshlineCLITests",
            dependencies: ["MeshlineModels", "MeshlineTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshlineDecisionTests",
            dependencies: [
                "MeshlineDecision", "MeshlineRegistry", "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels", "MeshlineTestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshlineExceptionsTests",
            dependencies: [
                "MeshlineExceptions", "MeshlineRegistry", "MeshlineDecision", "MeshlineHTTP2", "MeshlineRPC", "MeshlineModels", "MeshlineTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CModulesTests",
            dependencies: ["CNghttp2", "CProtobufC"],
            swiftSettings: strictSettings
        ),
    ]
)
