// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Greylist",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Greylist", targets: ["Greylist"]),
        .library(name: "GreylistXMPP", targets: ["GreylistXMPP"]),
        .library(name: "GreylistRedis", targets: ["GreylistRedis"]),
        .executable(name: "GreylistDemoServer", targets: ["GreylistDemoServer"]),
    ],
    targets: [
        .target(name: "Greylist"),
        .target(name: "GreylistXMPP"),
        .target(name: "GreylistRedis", dependencies: ["Greylist"]),
        .target(name: "CGreylistSystem"),
        .executableTarget(name: "GreylistDemoServer", dependencies: ["Greylist", "GreylistXMPP", "GreylistRedis", "CGreylistSystem"]),
        .executableTarget(name: "GreylistReplay", dependencies: ["Greylist"]),
        // Fixtures both test targets use (a real redis-server per test); not a product.
        .target(name: "GreylistTestSupport", dependencies: ["Greylist", "GreylistRedis"], path: "Tests/TestSupport"),
        .testTarget(name: "GreylistTests", dependencies: ["Greylist", "GreylistXMPP", "GreylistRedis", "GreylistDemoServer", "GreylistReplay",
                                                          "GreylistTestSupport"]),
        .testTarget(name: "GreylistXMPPTests", dependencies: ["GreylistXMPP"]),
        .testTarget(name: "GreylistRedisTests", dependencies: ["GreylistRedis", "Greylist", "GreylistTestSupport"]),
        .testTarget(name: "GreylistClientTests", dependencies: ["Greylist"]),
    ],
    swiftLanguageModes: [.v6]
)
