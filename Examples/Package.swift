// swift-tools-version:6.1
import Foundation
import PackageDescription

// Complete programs built on Greylist and GreylistNIO, in a package of their own: what only an
// example needs (TLS, certificates) stays out of the integration's package.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = repository.lastPathComponent.lowercased()

let package = Package(
    name: "GreylistExamples",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "LineLoginExample", targets: ["LineLoginExample"]),
        .executable(name: "GreylistNIOExample", targets: ["GreylistNIOExample"]),
    ],
    dependencies: [
        .package(path: ".."),
        .package(path: "../Integrations"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.0"),
    ],
    targets: [
        // The smallest complete integration: a line-protocol login server (the README's code).
        .executableTarget(
            name: "LineLoginExample",
            dependencies: [
                .product(name: "Greylist", package: rootIdentity),
                .product(name: "GreylistNIO", package: "integrations"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // An XMPP server on SwiftNIO over the root's sans-IO engine: STARTTLS and direct TLS.
        .executableTarget(
            name: "GreylistNIOExample",
            dependencies: [
                .product(name: "GreylistNIO", package: "integrations"),
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
            name: "LineLoginExampleTests",
            dependencies: [
                .product(name: "Greylist", package: rootIdentity),
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
