import Benchmark
import Greylist
import Synchronization

// The accept path, synchronous as a Dispatch accept loop calls it: a banned hit and a miss at
// 1k, 100k and 1M bans, IPv4 and IPv6, next to the baseline measured in the same run: a plain
// `Mutex<Dictionary>` lookup of the same keys.

/// Keys and tables built once per size, shared by the benchmarks of that size.
final class Fixtures: Sendable {
    final class Table: Sendable {
        let greylist: Greylist
        let baseline: Mutex<[UInt128: Int64]>
        let banned: [IPAddress]
        let missing: [IPAddress]

        init(greylist: Greylist, baseline: [UInt128: Int64], banned: [IPAddress], missing: [IPAddress]) {
            self.greylist = greylist
            self.baseline = Mutex(baseline)
            self.banned = banned
            self.missing = missing
        }
    }

    private let tables = Mutex<[String: Table]>([:])

    func table(bans: Int, ipv6: Bool) async -> Table {
        let name = "\(bans)-\(ipv6)"
        if let table = tables.withLock({ $0[name] }) { return table }
        let greylist = try! Greylist(configuration: GreylistConfiguration(limits: .init(maxBans: bans + 1)))
        var baseline: [UInt128: Int64] = [:]
        baseline.reserveCapacity(bans)
        var banned: [IPAddress] = []
        var generator = SplitMix(seed: UInt64(bans))
        for _ in 0..<bans {
            let address = ipv6
                ? IPAddress(bits: UInt128(0x2001_0db8) << 96 | UInt128(generator.next() & 0xFFFF_FFFF) << 64)
                : IPAddress(ipv4: UInt32(truncatingIfNeeded: generator.next()) | 0x0100_0000)
            // Bans are keyed by the configured prefix: /32 for IPv4, /64 for IPv6.
            _ = try! await greylist.ban(try! IPNetwork(address: address, prefixLength: ipv6 ? 64 : 32), for: .seconds(86_400), reason: "benchmark")
            baseline[address.bits] = Int64.max
            banned.append(address)
        }
        let missing = (0..<4_096).map { index in
            ipv6 ? IPAddress(bits: UInt128(0x2001_0db9) << 96 | UInt128(index) << 64) : IPAddress(ipv4: 0xC000_0000 | UInt32(index))
        }
        // The "banned hit" benchmarks must measure refusals and the "miss" ones acceptances.
        precondition(banned.prefix(4_096).allSatisfy { !greylist.shouldAccept(ip: $0) })
        precondition(missing.allSatisfy { greylist.shouldAccept(ip: $0) })
        let table = Table(greylist: greylist, baseline: baseline, banned: Array(banned.prefix(4_096)), missing: missing)
        tables.withLock { $0[name] = table }
        return table
    }
}

/// A small deterministic generator, so every run bans the same keys.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

let fixtures = Fixtures()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )
    for ipv6 in [false, true] {
        for bans in [1_000, 100_000, 1_000_000] {
            let family = ipv6 ? "IPv6" : "IPv4"
            for hit in [true, false] {
                let kind = hit ? "banned hit" : "miss"
                Benchmark("shouldAccept \(kind) \(family) \(bans) bans") { benchmark in
                    let table = await fixtures.table(bans: bans, ipv6: ipv6)
                    let keys = hit ? table.banned : table.missing
                    benchmark.startMeasurement()
                    for iteration in benchmark.scaledIterations {
                        blackHole(table.greylist.shouldAccept(ip: keys[iteration & 4_095]))
                    }
                }
                Benchmark("baseline Mutex<Dictionary> \(kind) \(family) \(bans) bans") { benchmark in
                    let table = await fixtures.table(bans: bans, ipv6: ipv6)
                    let keys = hit ? table.banned : table.missing
                    benchmark.startMeasurement()
                    for iteration in benchmark.scaledIterations {
                        let key = keys[iteration & 4_095].bits
                        blackHole(table.baseline.withLock { ($0[key] ?? .min) > 0 })
                    }
                }
            }
        }
    }
}
