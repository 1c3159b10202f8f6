import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

@Suite struct GreylistConcurrencyTests {
    @Test("many threads check while bans are placed, lifted and purged; counts add up")
    func concurrentChecks() async throws {
        let clock = ManualClock()
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [botnetRule]), clock: clock.wallClock)
        let sources = (0..<64).map { IPAddress(ipv4: 0xC000_0200 + UInt32($0)) }
        for source in sources.prefix(32) {
            await greylist.recordFailedAuth(user: "bad_user_12345", ip: source)
        }
        let checkers = 4
        let rounds = 2_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for checker in 0..<checkers {
                group.addTask {
                    // Synchronous calls from plain threads, as a Dispatch accept loop makes them.
                    await withCheckedContinuation { continuation in
                        DispatchQueue.global().async {
                            for round in 0..<rounds {
                                _ = greylist.shouldAccept(ip: sources[(round + checker) % sources.count])
                            }
                            continuation.resume()
                        }
                    }
                }
            }
            group.addTask {
                for round in 0..<200 {
                    let source = sources[round % sources.count]
                    await greylist.recordFailedAuth(user: "bad_user_12345", ip: source)
                    if round % 3 == 0 { await greylist.unban(IPNetwork(host: source)) }
                    if round % 50 == 0 {
                        clock.advance(by: .seconds(3_600))
                        await greylist.purgeExpired()
                    }
                    _ = await greylist.list()
                }
            }
            try await group.waitForAll()
        }
        let statistics = await greylist.statistics()
        #expect(statistics.accepted + statistics.refused == checkers * rounds)
        #expect(statistics.refused > 0)
    }
}
