import Benchmark
import Greylist

// `recordFailedAuth` with 1 and with 100 pattern rules, for usernames that match (and ban) and
// that match nothing (every pattern is tried).

func makeGreylist(rules count: Int) -> Greylist {
    // 99 patterns that never match typical names, then the seed's rule last, so a matching name
    // is tried against all of them.
    var rules = (0..<(count - 1)).map { GreylistRule(name: "decoy\($0)", pattern: "^decoy_\($0)_[a-z]{3,}[0-9]+$") }
    rules.append(GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$"))
    // Spraying and ranges off: sequential sources would otherwise mark "alice.smith" under attack
    // and ban whole /24s, and the benchmark would measure those shortcuts instead of the rules.
    return try! Greylist(configuration: GreylistConfiguration(rules: rules, limits: .init(maxBans: 10_000_000, maxTrackedAddresses: 10_000_000),
                                                              spraying: .init(distinctSources: 0), ranges: .init(bannedKeys: 0)))
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 100_000
    )
    for rules in [1, 100] {
        for matching in [true, false] {
            Benchmark("recordFailedAuth \(matching ? "matching" : "not matching") \(rules) rule(s)") { benchmark in
                let greylist = makeGreylist(rules: rules)
                var address: UInt32 = 0x0A00_0000
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    address &+= 1
                    // A new source each time, so a matching name bans instead of hitting "already banned".
                    blackHole(await greylist.recordFailedAuth(user: matching ? "bad_user_348211" : "alice.smith", ip: IPAddress(ipv4: address)))
                }
            }
        }
    }
}
