// swift-tools-version:6.1
import Foundation
import PackageDescription

// Greylist for SwiftNIO servers: a package of its own that depends on the root by path, so the
// root package stays free of dependencies. The root's identity is its directory's name.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "GreylistIntegrations",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "GreylistNIO", targets: ["GreylistNIO"]),
        .executable(name: "GreylistNIOExample", targets: ["GreylistNIOExample"]),
    ],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-certificates", exact: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1", exact: "1.7.4"),
    ],
    targets: [
        // accept4(2), which Swift's Glibc module does not declare.
        .target(name: "CGreylistNIOSystem"),
        .target(
            name: "GreylistNIO",
            dependencies: [
                "CGreylistNIOSystem",
                .product(name: "Greylist", package: rootIdentity),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "GreylistNIOExample",
            dependencies: [
                "GreylistNIO",
                .product(name: "Greylist", package: rootIdentity),
                .product(name: "GreylistXMPP", package: rootIdentity),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "GreylistNIOTests",
            dependencies: [
                "GreylistNIO",
                .product(name: "Greylist", package: rootIdentity),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        // The example's own handlers, over real loopback sockets.
        .testTarget(
            name: "GreylistNIOExampleTests",
            dependencies: [
                "GreylistNIOExample",
                .product(name: "Greylist", package: rootIdentity),
                .product(name: "GreylistXMPP", package: rootIdentity),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
