// swift-tools-version:6.1
import Foundation
import PackageDescription

// Greylist for SwiftNIO servers: a package of its own, so the root package stays free of
// dependencies and a user of this integration compiles only SwiftNIO, swift-log and
// swift-metrics. In this repository it depends on the root by path (the root's identity is then
// its directory's name); published on its own, by URL and version (CONTRIBUTING.md, "Releases").
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "GreylistIntegrations",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "GreylistNIO", targets: ["GreylistNIO"]),
    ],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
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
    ],
    swiftLanguageModes: [.v6]
)
