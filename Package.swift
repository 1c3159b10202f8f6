// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Greylist",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Greylist", targets: ["Greylist"]),
        .executable(name: "GreylistDemoServer", targets: ["GreylistDemoServer"]),
    ],
    targets: [
        .target(name: "Greylist"),
        .executableTarget(name: "GreylistDemoServer", dependencies: ["Greylist"]),
        .testTarget(name: "GreylistTests", dependencies: ["Greylist", "GreylistDemoServer"]),
    ],
    swiftLanguageModes: [.v6]
)
