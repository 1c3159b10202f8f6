import Foundation
import Greylist
import Synchronization

// How long `shouldAccept` waits while the actor does whole-table work, measured from a probe
// thread of its own (not the Swift pool) that calls it on a fixed schedule and times each call
// from when it was due:
//   idle    the table holds COUNT bans; nothing else runs
//   growth  COUNT bans are placed from empty (the table grows, by rebuilds)
//   purge   all COUNT bans have expired; one purgeExpired() removes them
// Prints p50 / p99 / p99.9 / max per phase and the ratio of each to idle.
// Usage: GreylistStalls [COUNT] [INTERVAL_NS] [ROUNDS]   (defaults 1,000,000 bans, a call every
// 100,000 ns, 5 rounds pooled)

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1_000_000 : 1_000_000
/// Nanoseconds between the probe's calls: 100 µs (the probe sleeps between calls, as an accept
/// thread blocks in accept); 10 µs makes it spin, a stress test that takes a core of its own.
let interval = CommandLine.arguments.count > 2 ? UInt64(CommandLine.arguments[2]) ?? 100_000 : 100_000
/// Fill, idle, purge rounds whose samples are pooled (a purge lasts a fraction of a second).
let rounds = CommandLine.arguments.count > 3 ? Int(CommandLine.arguments[3]) ?? 5 : 5
let offset = Atomic<Int64>(0)
let start = Date()
let clock = WallClock { start.addingTimeInterval(Double(offset.load(ordering: .relaxed)) / 1_000) }

func source(_ index: Int) -> IPNetwork {
    try! IPNetwork(address: IPAddress(bits: UInt128(0x2001_0db8) << 96 | UInt128(index) << 64), prefixLength: 64)
}

/// Calls `shouldAccept` on a fixed schedule (one call per `interval`) on a thread of its own
/// while `running` is set. Each call's latency counts from when it was due, not from when it
/// started: a call held up by a lock delays every call due meanwhile, and each of those counts
/// (no coordinated omission: one 200 ms stall is 200,000 late calls, not one slow sample).
final class Probe: @unchecked Sendable {
    let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)
    private var latencies: [UInt64] = []
    /// The longest single `shouldAccept` call, lock wait included.
    var longestCall: UInt64 = 0

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    init(_ greylist: Greylist) {
        // Touched now, so recording a latency never page-faults (a fault waits for the process's
        // memory map, which a large free elsewhere in the process holds).
        latencies = [UInt64](repeating: 1, count: 4_000_000)
        latencies.removeAll(keepingCapacity: true)
        let thread = Thread { [self] in
            let banned = IPAddress(bits: UInt128(0x2001_0db8) << 96 | 1 << 64 | 7)
            let stranger = IPAddress(bits: UInt128(0x2001_0db9) << 96 | 7)
            var due = Probe.now()
            var call = 0
            while running.load(ordering: .relaxed) && latencies.count < 4_000_000 {
                // Sleep through most of the wait (a spinning probe would take a core from the
                // work it measures), then spin the last 60 µs for precision.
                let now = Probe.now()
                if due > now + 60_000 { usleep(UInt32((due - now - 60_000) / 1_000)) }
                while Probe.now() < due {}
                let callStart = Probe.now()
                _ = greylist.shouldAccept(ip: call & 1 == 0 ? banned : stranger)
                let callEnd = Probe.now()
                longestCall = max(longestCall, callEnd - callStart)
                let latency = callEnd - due
                latencies.append(latency)
                due += interval
                call += 1
            }
            done.signal()
        }
        thread.start()
    }

    /// Stops the probe; returns its sorted latencies and its longest single call, in nanoseconds.
    func finish() -> (latencies: [UInt64], longestCall: UInt64) {
        running.store(false, ordering: .relaxed)
        done.wait()
        return (latencies.sorted(), longestCall)
    }
}

func report(_ name: String, _ phase: (latencies: [UInt64], longestCall: UInt64), idle: (latencies: [UInt64], longestCall: UInt64)?) {
    func quantile(_ values: [UInt64], _ q: Double) -> UInt64 { values[min(values.count - 1, Int(Double(values.count) * q))] }
    let sorted = phase.latencies
    var line = String(format: "| %@ | %d | %.1f | %.1f | %.1f | %.1f | %.1f |", name as NSString, sorted.count,
                      Double(quantile(sorted, 0.5)) / 1_000, Double(quantile(sorted, 0.99)) / 1_000, Double(quantile(sorted, 0.999)) / 1_000,
                      Double(sorted.last ?? 0) / 1_000, Double(phase.longestCall) / 1_000)
    if let idle {
        line += String(format: " %.2f× |", Double(quantile(sorted, 0.999)) / Double(quantile(idle.latencies, 0.999)))
    } else {
        line += " 1 |"
    }
    print(line)
}

enum Stalls {
    /// Pools the samples of several runs of one phase.
    static func merge(_ phases: [(latencies: [UInt64], longestCall: UInt64)]) -> (latencies: [UInt64], longestCall: UInt64) {
        (phases.flatMap(\.latencies).sorted(), phases.map(\.longestCall).max() ?? 0)
    }

    nonisolated static func run() async throws {
        let greylist = try Greylist(configuration: GreylistConfiguration(limits: .init(maxBans: count + 1)), clock: clock)
        var growths: [(latencies: [UInt64], longestCall: UInt64)] = []
        var purges: [(latencies: [UInt64], longestCall: UInt64)] = []
        var idles: [(latencies: [UInt64], longestCall: UInt64)] = []
        for round in 1...rounds {
            let probe = Probe(greylist)
            let growthStart = ContinuousClock.now
            for index in 0..<count {
                _ = try await greylist.ban(source(index), for: .seconds(3_600), reason: "load")
            }
            growths.append(probe.finish())
            let placed = ContinuousClock.now - growthStart

            let idleProbe = Probe(greylist)
            try await Task.sleep(for: .seconds(1))
            idles.append(idleProbe.finish())

            offset.add(2 * 3_600_000, ordering: .relaxed)
            let purgeProbe = Probe(greylist)
            let purgeStart = ContinuousClock.now
            let expired = await greylist.purgeExpired().count
            purges.append(purgeProbe.finish())
            print("round \(round): placed \(count) bans in \(placed), purged \(expired) in \(ContinuousClock.now - purgeStart)")
        }
        let idle = merge(idles)
        print("probe: one shouldAccept every \(interval / 1_000) µs; latency counted from when each call was due (µs); \(rounds) rounds pooled")
        print("| phase | calls | p50 | p99 | p99.9 | max | longest call | p99.9 vs idle |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        report("idle", idle, idle: nil)
        report("growth", merge(growths), idle: idle)
        report("purge", merge(purges), idle: idle)
    }
}

try await Stalls.run()
