import Foundation
import Greylist
import Synchronization

// How long `shouldAccept` waits while the actor does whole-table work, measured from a probe
// thread of its own (not the Swift pool) that calls it once per microsecond and times each call
// from when it was due:
//   idle    the table holds COUNT bans; nothing else runs
//   growth  COUNT bans are placed from empty (the table grows, by rebuilds)
//   purge   all COUNT bans have expired; one purgeExpired() removes them
// Prints p50 / p99 / p99.9 / max per phase and the ratio of each to idle.
// Usage: GreylistStalls [COUNT]   (default 1,000,000)

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1_000_000 : 1_000_000
let offset = Atomic<Int64>(0)
let start = Date()
let clock = WallClock { start.addingTimeInterval(Double(offset.load(ordering: .relaxed)) / 1_000) }

func source(_ index: Int) -> IPNetwork {
    try! IPNetwork(address: IPAddress(bits: UInt128(0x2001_0db8) << 96 | UInt128(index) << 64), prefixLength: 64)
}

/// Calls `shouldAccept` on a fixed schedule (one call per microsecond) on a thread of its own
/// while `running` is set. Each call's latency counts from when it was due, not from when it
/// started: a call held up by a lock delays every call due meanwhile, and each of those counts
/// (no coordinated omission: one 200 ms stall is 200,000 late calls, not one slow sample).
final class Probe: @unchecked Sendable {
    let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)
    private var latencies: [UInt64] = []

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    init(_ greylist: Greylist) {
        latencies.reserveCapacity(20_000_000)
        let thread = Thread { [self] in
            let banned = IPAddress(bits: UInt128(0x2001_0db8) << 96 | 1 << 64 | 7)
            let stranger = IPAddress(bits: UInt128(0x2001_0db9) << 96 | 7)
            var due = Probe.now()
            var call = 0
            while running.load(ordering: .relaxed) && latencies.count < 20_000_000 {
                while Probe.now() < due {}
                _ = greylist.shouldAccept(ip: call & 1 == 0 ? banned : stranger)
                latencies.append(Probe.now() - due)
                due += 1_000
                call += 1
            }
            done.signal()
        }
        thread.start()
    }

    /// Stops the probe and returns its sorted latencies in nanoseconds.
    func finish() -> [UInt64] {
        running.store(false, ordering: .relaxed)
        done.wait()
        return latencies.sorted()
    }
}

func report(_ name: String, _ sorted: [UInt64], idle: [UInt64]?) {
    func quantile(_ values: [UInt64], _ q: Double) -> UInt64 { values[min(values.count - 1, Int(Double(values.count) * q))] }
    var line = String(format: "%-7@ calls %9d  p50 %7d ns  p99 %9d ns  p99.9 %10d ns  max %10d ns", name as NSString, sorted.count,
                      quantile(sorted, 0.5), quantile(sorted, 0.99), quantile(sorted, 0.999), sorted.last ?? 0)
    if let idle {
        line += String(format: "   p99.9 %.2fx idle, max %.0fx idle", Double(quantile(sorted, 0.999)) / Double(quantile(idle, 0.999)),
                       Double(sorted.last ?? 0) / Double(idle.last ?? 1))
    }
    print(line)
}

enum Stalls {
    nonisolated static func run() async throws {
        let greylist = try Greylist(configuration: GreylistConfiguration(limits: .init(maxBans: count + 1)), clock: clock)

        var probe = Probe(greylist)
        let growthStart = ContinuousClock.now
        for index in 0..<count {
            _ = try await greylist.ban(source(index), for: .seconds(3_600), reason: "load")
        }
        let growth = probe.finish()
        print("placed \(count) bans in \(ContinuousClock.now - growthStart)")

        probe = Probe(greylist)
        try await Task.sleep(for: .seconds(2))
        let idle = probe.finish()

        offset.store(2 * 3_600_000, ordering: .relaxed)
        probe = Probe(greylist)
        let purgeStart = ContinuousClock.now
        let expired = await greylist.purgeExpired().count
        let purge = probe.finish()
        print("purged \(expired) expired bans in \(ContinuousClock.now - purgeStart)")

        report("idle", idle, idle: nil)
        report("growth", growth, idle: idle)
        report("purge", purge, idle: idle)
    }
}

try await Stalls.run()
