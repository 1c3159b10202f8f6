import Foundation
import Greylist
@_spi(Internals) import GreylistRedis
import Synchronization

// What sharing bans through Redis costs and how fast it is, against baselines from the same run:
//   propagation   a ban on node A → node B refuses (B's ban event: its gate already refuses);
//                 p50 / p99 over SAMPLES bans one at a time, vs a bare Redis PING round trip
//   throughput    COUNT operator bans on A as fast as the actor takes them → all applied on B;
//                 bans/s, vs raw pipelined SET+PUBLISH (512 per write) from one connection
//   failedAuth    recordFailedAuth (a counted failure, and a ban) per call: alone, with the link,
//                 and with the link while Redis is stopped (SIGSTOP): the link adds no round trip
//   memory        MEMORY USAGE of ban keys (mean of 1,000) and used_memory growth per ban
// Usage: GreylistCluster [SAMPLES] [COUNT]   (defaults 1,000 and 100,000); needs /usr/bin/redis-server.

let samples = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1_000 : 1_000
let count = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 100_000 : 100_000

func nanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

func percentile(_ values: [UInt64], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1_000
}

func line(_ name: String, _ values: [UInt64]) -> String {
    String(format: "%@ p50 %.0f µs, p99 %.0f µs, max %.0f µs", name, percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1))
}

/// Records when each network's ban reached a node, and wakes a waiter.
final class Arrivals: Sendable {
    let times = Mutex<[IPNetwork: UInt64]>([:])
    let signal = DispatchSemaphore(value: 0)

    var sink: @Sendable (GreylistEvent) -> Void {
        { event in
            guard case .banned(let entry, _) = event else { return }
            let now = nanoseconds()
            self.times.withLock { $0[entry.network] = now }
            self.signal.signal()
        }
    }

    func wait(for network: IPNetwork, seconds: Double = 10) -> UInt64? {
        let deadline = DispatchTime.now() + seconds
        while true {
            if let time = times.withLock({ $0[network] }) { return time }
            if signal.wait(timeout: deadline) == .timedOut { return times.withLock { $0[network] } }
        }
    }

    func wait(forCount expected: Int, seconds: Double = 120) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while times.withLock({ $0.count }) < expected {
            if signal.wait(timeout: deadline) == .timedOut { return false }
        }
        return true
    }
}

func node(_ name: String, port: Int, events: (@Sendable (GreylistEvent) -> Void)? = nil, rules: [GreylistRule],
          judgment: Bool = true) throws -> (Greylist, RedisStore) {
    var settings = try RedisStoreSettings(port: port, namespace: "bench")
    settings.reconnectDelay = .milliseconds(20)
    let store = RedisStore(settings: settings, key: try ClusterKey(Array("greylist-benchmark-cluster-key".utf8)), localJournal: nil, nodeID: name)
    var configuration = GreylistConfiguration(rules: rules, limits: .init(maxBans: 2_000_000, maxTrackedAddresses: 2_000_000))
    if !judgment {
        configuration.spraying = GreylistConfiguration.Spraying(distinctSources: 0)
        configuration.unknownNames = GreylistConfiguration.UnknownNames(distinctSources: 0)
        configuration.ranges = GreylistConfiguration.Ranges(bannedKeys: 0)
    }
    return (try Greylist(configuration: configuration, events: events, store: store), store)
}

func address(_ index: Int) -> IPAddress {
    IPAddress(bits: UInt128(0x2001_0db8) << 96 | UInt128(index) << 64 | 1)
}

/// Runs async work from this top-level (main) thread and waits for it.
func run<Value: Sendable>(_ body: @escaping @Sendable () async throws -> Value) throws -> Value {
    let result = Mutex<Result<Value, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value: Result<Value, any Error>
        do { value = .success(try await body()) } catch { value = .failure(error) }
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}

let redis = try RedisProcess()
defer { redis.stop() }
let rule = GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", banFor: .seconds(4 * 3_600))
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; redis-server on 127.0.0.1:\(redis.port), no persistence")

// Baseline: the Redis round trip itself.
let probe = try redis.connect()
var pings: [UInt64] = []
for _ in 0..<samples {
    let start = nanoseconds()
    _ = try probe.call(["PING"])
    pings.append(nanoseconds() - start)
}
print(line("PING round trip       ", pings))

// Propagation.
let arrivals = Arrivals()
let (nodeA, storeA) = try node("a", port: redis.port, rules: [rule])
let (nodeB, storeB) = try node("b", port: redis.port, events: arrivals.sink, rules: [rule])
for store in [storeA, storeB] {
    for _ in 0..<500 where store.status.state != .connected { usleep(10_000) }
}
var propagation: [UInt64] = []
for index in 0..<samples {
    let source = address(index)
    let start = nanoseconds()
    _ = try run { await nodeA.recordFailedAuth(user: "bad_user_\(10_000 + index)", ip: source) }
    // IPv6 sources are banned by their /64 (the default key).
    guard let arrived = arrivals.wait(for: try IPNetwork(address: source, prefixLength: 64)) else {
        print("ban \(index) never reached B"); exit(1)
    }
    guard !nodeB.shouldAccept(ip: source) else { print("B accepted a banned source"); exit(1) }
    propagation.append(arrived - start)
}
print(line("ban on A → refused on B", propagation) + String(format: "  (p99 = %.1f× PING p99)", percentile(propagation, 0.99) / percentile(pings, 0.99)))

// Throughput: raw pipelined SET+PUBLISH as the ceiling, then bans through the link.
let value = Array(repeating: UInt8(ascii: "x"), count: 60)
var start = nanoseconds()
for batch in stride(from: 0, to: count, by: 512) {
    var pipeline: [[RESPArgument]] = []
    for index in batch..<min(batch + 512, count) {
        pipeline.append(["SET", RESPArgument("raw:ban:\(index)"), RESPArgument(bytes: value), "PX", "600000"])
        pipeline.append(["PUBLISH", "raw:changes", RESPArgument(bytes: value)])
    }
    _ = try probe.pipeline(pipeline)
}
let rawRate = Double(count) / (Double(nanoseconds() - start) / 1e9)
_ = try probe.call(["DEL"] + (0..<min(count, 1)).map { RESPArgument("raw:ban:\($0)") })
_ = try probe.call(["FLUSHDB"])
let before = arrivals.times.withLock { $0.count }
start = nanoseconds()
try run {
    for index in 0..<count {
        _ = try await nodeA.ban(try IPNetwork(address: address(1_000_000 + index), prefixLength: 64), for: .seconds(3_600), reason: "bench")
    }
}
let placed = nanoseconds()
guard arrivals.wait(forCount: before + count) else { print("B did not receive every ban"); exit(1) }
let linkRate = Double(count) / (Double(nanoseconds() - start) / 1e9)
print(String(format: "raw SET+PUBLISH pipelined  %.0f /s", rawRate))
print(String(format: "bans A → applied on B      %.0f /s  (%.2f× raw; placing them on A alone took %.2f s)", linkRate, linkRate / rawRate,
             Double(placed - start) / 1e9))

// Memory per ban in Redis.
let keys = try probe.call(["SCAN", "0", "MATCH", "bench:ban:*", "COUNT", "2000"])
var usage: [Int64] = []
if case .array(let parts?) = keys, case .array(let names?) = parts[1] {
    for name in names.prefix(1_000) {
        if case .integer(let bytes) = try probe.call(["MEMORY", "USAGE", RESPArgument(bytes: { if case .bulkString(let b?) = name { b } else { [] } }())]) {
            usage.append(bytes)
        }
    }
}
func usedMemory(_ probe: RedisConnection) throws -> Int64 {
    let info = try probe.call(["INFO", "memory"]).text ?? ""
    let field = info.split(separator: "\r\n").first { $0.hasPrefix("used_memory:") } ?? "used_memory:0"
    return Int64(field.dropFirst("used_memory:".count)) ?? 0
}
let withBans = try usedMemory(probe)
let total = try probe.call(["DBSIZE"])
_ = try probe.call(["FLUSHDB"])
let empty = try usedMemory(probe)
if case .integer(let stored) = total, stored > 0 {
    print(String(format: "Redis memory per ban: MEMORY USAGE mean %.0f B (of %d keys); used_memory growth %.0f B per ban (%lld keys)",
                 Double(usage.reduce(0, +)) / Double(max(usage.count, 1)), usage.count, Double(withBans - empty) / Double(stored), stored))
}

// recordFailedAuth: alone, with the link, with the link while Redis is stopped. Nodes A and B
// stop first: on one machine, their applying C's bans would be counted as C's cost.
try run {
    await nodeA.closeStore()
    await nodeB.closeStore()
}
func failedAuthCost(_ greylist: Greylist, offset: Int) throws -> (counted: Double, banned: Double) {
    let calls = 20_000
    let counted = try run {
        let start = nanoseconds()
        for index in 0..<calls { await greylist.recordFailedAuth(user: "admin", ip: address(offset + index % 64)) }
        return Double(nanoseconds() - start) / Double(calls) / 1_000
    }
    let banned = try run {
        let start = nanoseconds()
        for index in 0..<calls { await greylist.recordFailedAuth(user: "bad_user_\(10_000 + index)", ip: address(offset + 100_000 + index)) }
        return Double(nanoseconds() - start) / Double(calls) / 1_000
    }
    return (counted, banned)
}
let slow = GreylistRule(name: "slow", pattern: "^admin$", maxFailures: 1_000_000, window: .seconds(600), banFor: .seconds(3_600))
// Spraying and ranges off: with them, "admin" from 64 keys marks the account under attack and
// every later failure is an already-banned one (the cheap path), not a counted one.
let judgment = (spraying: GreylistConfiguration.Spraying(distinctSources: 0), ranges: GreylistConfiguration.Ranges(bannedKeys: 0))
let alone = try Greylist(configuration: GreylistConfiguration(rules: [rule, slow], limits: .init(maxBans: 2_000_000, maxTrackedAddresses: 2_000_000),
                                                              spraying: judgment.spraying, ranges: judgment.ranges))
let (linked, linkedStore) = try node("c", port: redis.port, rules: [rule, slow], judgment: false)
for _ in 0..<500 where linkedStore.status.state != .connected { usleep(10_000) }
let costAlone = try failedAuthCost(alone, offset: 3_000_000)
let costLinked = try failedAuthCost(linked, offset: 4_000_000)
kill(redis.processIdentifier, SIGSTOP)
let costStopped = try failedAuthCost(linked, offset: 5_000_000)
kill(redis.processIdentifier, SIGCONT)
print(String(format: "recordFailedAuth, counted failure: alone %.2f µs, with the link %.2f µs (%.2f×), Redis stopped %.2f µs", costAlone.counted,
             costLinked.counted, costLinked.counted / costAlone.counted, costStopped.counted))
print(String(format: "recordFailedAuth, ban:             alone %.2f µs, with the link %.2f µs (%.2f×), Redis stopped %.2f µs", costAlone.banned,
             costLinked.banned, costLinked.banned / costAlone.banned, costStopped.banned))
print(String(format: "(PING round trip p50 %.0f µs: the link adds no round trip to recordFailedAuth; it only queues)", percentile(pings, 0.5)))
try run { await linked.closeStore() }
