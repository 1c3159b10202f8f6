import Foundation
import Greylist

// Replays 24 simulated hours of botnet and user traffic per scenario through the public API
// (after a day of user logins only, so trust is as on a server that has been running), and prints
// one table per configuration. Deterministic: the same seed gives the same table.
//   swift run -c release GreylistReplay            the recommended configuration and mod_greylist's
//   swift run -c release GreylistReplay --seed 7

var seed: UInt64 = 1
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument == "--seed", let value = arguments.popFirst().flatMap({ UInt64($0) }) {
        seed = value
    } else {
        print("usage: GreylistReplay [--seed N]")
        exit(2)
    }
}

let configurations: [(String, GreylistConfiguration)] = [
    ("mod_greylist: one matching failure bans for 4 h; nothing else", ReplayConfigurations.modGreylist),
    ("recommended, bot names and shared addresses off (baseline)", ReplayConfigurations.withoutNamesAndSharedAddresses),
    ("recommended (README, \"Choosing rules\")", ReplayConfigurations.recommended),
]
for (label, configuration) in configurations {
    print("\n### \(label)\n")
    print("| scenario | attack tries | refused before TLS | tries reaching TLS per attacking key | password guesses per targeted account | users locked out |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for scenario in Scenarios.all(seed: seed) {
        var adjusted = configuration
        scenario.adjust(&adjusted)
        let result = try await Simulation.run(name: scenario.name, actors: scenario.actors, configuration: adjusted, seed: seed,
                                              warmUp: scenario.warmUp)
        let share = String(format: "%.1f %%", result.refusedShare * 100)
        let perKey = String(format: "%.2f", result.triesPerKey)
        let guesses = result.guessesPerAccount.map { String(format: "%.1f (%d accounts)", $0, result.guesses.count) } ?? "–"
        print("| \(result.name) | \(result.attackTries) | \(share) | \(perKey) (\(result.attackingKeys.count) keys) | \(guesses) | \(result.lockedOut.count) of \(result.users.count) |")
    }
}
