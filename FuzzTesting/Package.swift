// swift-tools-version:6.0
// libFuzzer harnesses for every parser of Greylist: build with ./do_build.sh, run with ./run.sh.
// A package of its own (depends on the root by path), so the root stays free of fuzzing flags.
import PackageDescription

let harnesses = ["FuzzXMPPEngine", "FuzzConfiguration", "FuzzAddresses", "FuzzPattern", "FuzzJournal", "FuzzRESP", "FuzzSharedRecord", "FuzzProxyHeader"]

let package = Package(
    name: "GreylistFuzzTesting",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Greylist", path: "..")],
    targets: [.target(name: "CFuzzDriver")] + harnesses.map { name in
        .executableTarget(name: name, dependencies: [
            "CFuzzDriver",
            .product(name: "Greylist", package: "Greylist"),
            .product(name: "GreylistXMPP", package: "Greylist"),
            .product(name: "GreylistRedis", package: "Greylist"),
        ])
    },
    swiftLanguageModes: [.v6]
)
