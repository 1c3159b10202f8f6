// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Greylist",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Greylist", targets: ["Greylist"]),
        .library(name: "GreylistXMPP", targets: ["GreylistXMPP"]),
        .executable(name: "GreylistDemoServer", targets: ["GreylistDemoServer"]),
    ],
    targets: [
        .target(name: "Greylist"),
        .target(name: "GreylistXMPP"),
        .target(name: "CGreylistSystem"),
        .executableTarget(name: "GreylistDemoServer", dependencies: ["Greylist", "GreylistXMPP", "CGreylistSystem"]),
        .executableTarget(name: "GreylistReplay", dependencies: ["Greylist"]),
        .testTarget(name: "GreylistTests", dependencies: ["Greylist", "GreylistXMPP", "GreylistDemoServer", "GreylistReplay"]),
        .testTarget(name: "GreylistXMPPTests", dependencies: ["GreylistXMPP"]),
        .testTarget(name: "GreylistClientTests", dependencies: ["Greylist"]),
    ],
    swiftLanguageModes: [.v6]
)
