import Foundation
import Greylist

// Resident memory of the greylist, read from /proc/self/statm:
//   per-ban   bytes per ban entry with 1,000,000 IPv6 bans (each its own /64) made by a rule
//   flood     10,000,000 distinct IPv6 sources (each its own /64) failing a login, caps of 1M:
//             the resident-memory curve, every 500,000 failures
// Usage: GreylistMemory per-ban|flood [count]

func residentBytes() -> Int {
    let fields = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ") ?? []
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func source(_ index: Int) -> IPAddress {
    IPAddress(bits: UInt128(0x2001_0db8) << 96 | UInt128(index) << 64 | 1)
}

let seedRule = GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", banFor: .seconds(4 * 3_600))

/// The measurements run off the main actor, so each call into the greylist is not also a hop
/// between the main thread and the pool (which would measure the harness, not the library).
enum Measurement {
    nonisolated static func run(_ mode: String) async throws {
switch mode {
case "per-ban":
    let count = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 1_000_000
    let greylist = try Greylist(configuration: GreylistConfiguration(rules: [seedRule], limits: .init(maxBans: count + 1, maxTrackedAddresses: count + 1)))
    _ = await greylist.recordFailedAuth(user: "bad_user_00000", ip: source(count))
    let before = residentBytes()
    for index in 0..<count {
        _ = await greylist.recordFailedAuth(user: "bad_user_34821", ip: source(index))
    }
    let after = residentBytes()
    let statistics = await greylist.statistics()
    print("bans: \(statistics.activeBans), tracked addresses: \(statistics.trackedAddresses)")
    print("resident before: \(before / 1_048_576) MiB, after: \(after / 1_048_576) MiB")
    print(String(format: "bytes per ban (everything: the ban table with its free slots, reasons, recent usernames): %.1f", Double(after - before) / Double(statistics.activeBans - 1)))
case "flood":
    let count = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 10_000_000
    let greylist = try Greylist(configuration: GreylistConfiguration(rules: [seedRule], limits: .init(maxBans: 1_000_000, maxTrackedAddresses: 1_000_000)))
    let start = Date()
    print("failures,resident_mib,active_bans,tracked,bans_evicted,seconds")
    for index in 0..<count {
        _ = await greylist.recordFailedAuth(user: "bad_user_34821", ip: source(index))
        if (index + 1) % 500_000 == 0 {
            let statistics = await greylist.statistics()
            print("\(index + 1),\(residentBytes() / 1_048_576),\(statistics.activeBans),\(statistics.trackedAddresses),\(statistics.bansEvicted),\(Int(Date().timeIntervalSince(start)))")
        }
    }
default:
    print("usage: GreylistMemory per-ban|flood [count]")
    exit(2)
}
    }
}

try await Measurement.run(CommandLine.arguments.dropFirst().first ?? "per-ban")
