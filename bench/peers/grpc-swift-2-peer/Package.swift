// swift-tools-version: 6.1
// The peer for bench/rpc: grpc-swift-2 on its NIO HTTP/2 transport, serving
// grpc.health.v1.Health/Check with the same response bytes as MeshlineRPC.
import PackageDescription

let package = Package(
    name: "grpc-swift-2-peer",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    ],
    targets: [
        .executableTarget(
            name: "grpc-swift-2-peer",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        )
    ]
)
