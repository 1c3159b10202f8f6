// swift-tools-version:6.1
import Foundation
import PackageDescription

// The root package is a path dependency; its identity is its directory's name, whatever the
// clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "GreylistBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "AcceptPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Greylist", package: rootIdentity),
            ],
            path: "Benchmarks/AcceptPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "FailedAuth",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Greylist", package: rootIdentity),
            ],
            path: "Benchmarks/FailedAuth",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "GreylistMemory",
            dependencies: [.product(name: "Greylist", package: rootIdentity)]
        ),
        .executableTarget(name: "GreylistLoad"),
        .executableTarget(
            name: "GreylistStalls",
            dependencies: [.product(name: "Greylist", package: rootIdentity)]
        ),
        .executableTarget(
            name: "GreylistCluster",
            dependencies: [.product(name: "Greylist", package: rootIdentity), .product(name: "GreylistRedis", package: rootIdentity)]
        ),
        .executableTarget(
            name: "GreylistRestart",
            dependencies: [.product(name: "Greylist", package: rootIdentity)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
