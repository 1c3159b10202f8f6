// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Greylist",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Greylist", targets: ["Greylist"]),
        .library(name: "GreylistXMPP", targets: ["GreylistXMPP"]),
        .library(name: "GreylistRedis", targets: ["GreylistRedis"]),
        .library(name: "GreylistAdmin", targets: ["GreylistAdmin"]),
        .executable(name: "greylist-admin", targets: ["GreylistAdminTool"]),
        .executable(name: "GreylistDemoServer", targets: ["GreylistDemoServer"]),
    ],
    targets: [
        .target(name: "Greylist"),
        .target(name: "GreylistXMPP"),
        .target(name: "GreylistRedis", dependencies: ["Greylist"]),
        .target(name: "CGreylistSystem"),
        // Socket and file calls shared by the admin library and the demo; not a product.
        .target(name: "GreylistSystem", dependencies: ["Greylist", "CGreylistSystem"]),
        // Operator verbs over a Unix socket, for any host: server, client, command line.
        .target(name: "GreylistAdmin", dependencies: ["Greylist", "GreylistSystem"]),
        .executableTarget(name: "GreylistAdminTool", dependencies: ["GreylistAdmin"]),
        .executableTarget(name: "GreylistDemoServer", dependencies: ["Greylist", "GreylistXMPP", "GreylistRedis", "GreylistAdmin", "GreylistSystem",
                                                                     "CGreylistSystem"]),
        .executableTarget(name: "GreylistReplay", dependencies: ["Greylist"]),
        // Fixtures both test targets use (a real redis-server per test); not a product.
        .target(name: "GreylistTestSupport", dependencies: ["Greylist", "GreylistRedis"], path: "Tests/TestSupport"),
        // One test target per module: the library, the XMPP engine, the Redis store, the demo
        // server (with the admin library it serves), the replay tool, and a client's compile check.
        .testTarget(name: "GreylistTests", dependencies: ["Greylist", "GreylistTestSupport"]),
        .testTarget(name: "GreylistDemoServerTests", dependencies: ["GreylistDemoServer", "Greylist", "GreylistXMPP", "GreylistRedis",
                                                                    "GreylistAdmin", "GreylistSystem", "GreylistTestSupport"]),
        .testTarget(name: "GreylistReplayTests", dependencies: ["GreylistReplay", "Greylist"]),
        .testTarget(name: "GreylistXMPPTests", dependencies: ["GreylistXMPP"]),
        .testTarget(name: "GreylistRedisTests", dependencies: ["GreylistRedis", "Greylist", "GreylistTestSupport"]),
        .testTarget(name: "GreylistClientTests", dependencies: ["Greylist"]),
    ],
    swiftLanguageModes: [.v6]
)
