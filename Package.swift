// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Greylist",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Greylist", targets: ["Greylist"]),
    ],
    targets: [
        .target(name: "Greylist"),
        .testTarget(name: "GreylistTests", dependencies: ["Greylist"]),
    ],
    swiftLanguageModes: [.v6]
)
