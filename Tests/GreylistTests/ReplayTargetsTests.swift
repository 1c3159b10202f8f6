import Testing
@testable import GreylistReplay

/// The efficacy targets, checked on the replay's deterministic scenarios (seed 1): a change that
/// lets bots back in or locks a user out fails here, not only in BENCHMARKS.md.
@Suite struct ReplayTargetsTests {
    @Test("with the recommended configuration: ≤ 1.05 tries per key (steady, plateaus, IPv6), ≤ 2 for unknown names, no user locked out")
    func recommendedMeetsTargets() async throws {
        for scenario in Scenarios.all(seed: 1) {
            let result = try await Simulation.run(name: scenario.name, actors: scenario.actors,
                                                  configuration: ReplayConfigurations.recommended, seed: 1)
            #expect(result.lockedOut.isEmpty, "\(result.name): \(result.lockedOut.sorted()) locked out")
            #expect(result.userLogins > 0, "\(result.name): users logged in")
            if result.name.hasPrefix("steady") || result.name.hasPrefix("plateaus") || result.name.hasPrefix("IPv6") {
                #expect(result.triesPerKey <= 1.05, "\(result.name): \(result.triesPerKey) tries per key")
            }
            if result.name.hasPrefix("unknown names") {
                #expect(result.triesPerKey <= 2, "\(result.name): \(result.triesPerKey) tries per key")
            }
        }
    }

    @Test("mod_greylist's rule alone lets every bot back about three times a day and locks the office out")
    func baselineIsWorse() async throws {
        let scenarios = Scenarios.all(seed: 1)
        let steady = try #require(scenarios.first { $0.name.hasPrefix("steady") })
        let nat = try #require(scenarios.first { $0.name.contains("NAT") })
        let steadyResult = try await Simulation.run(name: steady.name, actors: steady.actors, configuration: ReplayConfigurations.modGreylist, seed: 1)
        let natResult = try await Simulation.run(name: nat.name, actors: nat.actors, configuration: ReplayConfigurations.modGreylist, seed: 1)
        #expect(steadyResult.triesPerKey >= 2.5)
        #expect(natResult.lockedOut.count == 20)
    }
}
