import Greylist

/// The replayed populations: the legitimate users present in every scenario, and the attackers
/// that make each scenario.
enum Scenarios {
    static let minute = Simulation.minute
    static let hour = Simulation.hour

    /// Every `period` ± `jitter`, from a random start within the first period.
    static func periodic(_ period: Int64, jitter: Int64, active: @escaping (Int64) -> Bool = { _ in true })
        -> ((inout SeededRandom, Int64) -> Int64?, (inout SeededRandom) -> Int64) {
        let next: (inout SeededRandom, Int64) -> Int64? = { random, time in
            var candidate = time + period + Int64.random(in: -jitter...jitter, using: &random)
            // Sleep through inactive hours in 10-minute steps (plateaus).
            var guardSteps = 0
            while !active(candidate) && guardSteps < 1_000 {
                candidate += 10 * minute
                guardSteps += 1
            }
            return candidate
        }
        let first: (inout SeededRandom) -> Int64 = { random in
            var candidate = Int64.random(in: 0..<period, using: &random)
            while !active(candidate) { candidate += 10 * minute }
            return candidate
        }
        return (next, first)
    }

    /// 100 users at home (each their own IPv4 address), 30 on phones (a new carrier address every
    /// session), logging in every 1–6 hours; 5 % of logins start with a wrong password and 2 % with
    /// a mistyped username, corrected five seconds later.
    static func legitimateUsers(_ random: inout SeededRandom) -> [SimulatedActor] {
        var actors: [SimulatedActor] = []
        for index in 0..<100 {
            let home = IPAddress(ipv4: 0xC612_0000 + UInt32(index) * 7 + 1)  // 198.18.0.0/15, spread over /24s
            let (next, first) = periodic(4 * hour, jitter: 2 * hour)
            actors.append(SimulatedActor(role: .user(account: "user\(index)", passwordTypo: 0.05, usernameTypo: 0.02),
                                         address: { _, _ in home }, nextAttempt: next, firstAttempt: first(&random)))
        }
        for index in 0..<30 {
            let (next, first) = periodic(2 * hour, jitter: hour)
            actors.append(SimulatedActor(role: .user(account: "phone\(index)", passwordTypo: 0.05, usernameTypo: 0.02),
                                         address: { random, _ in Addresses.ipv4(in: 0x6440_0000, prefix: 10, using: &random) },
                                         nextAttempt: next, firstAttempt: first(&random)))
        }
        return actors
    }

    /// Bots spread over 45.0.0.0/8, one try every `period` (10 minutes) each, names from `names`.
    static func bots(_ count: Int, names: [String], kind: AuthenticationFailure = .unknownAccount, period: Int64 = 10 * minute,
                     active: @escaping (Int64) -> Bool = { _ in true }, _ random: inout SeededRandom) -> [SimulatedActor] {
        (0..<count).map { _ in
            let home = Addresses.ipv4(in: 0x2D00_0000, prefix: 8, using: &random)
            let (next, first) = periodic(period, jitter: period / 5, active: active)
            return SimulatedActor(role: .bot(names: names, kind: kind), address: { _, _ in home }, nextAttempt: next, firstAttempt: first(&random))
        }
    }

    static let botNames = (0..<1_000).map { "bad_user_\(10_000 + $0 * 37)" }
    static let dictionaryNames = ["admin", "test", "info", "support", "user", "guest", "root", "office", "mail", "sales",
                                  "webmaster", "contact", "postmaster", "billing", "jabber", "xmpp", "service", "demo"]

    /// Hours 6–12 and 18–24 of the day (after the warm-up day): the plateaus.
    static func inPlateau(_ time: Int64) -> Bool {
        let hourOfDay = (time / hour) % 24
        return (6..<12).contains(hourOfDay) || (18..<24).contains(hourOfDay)
    }

    /// One replayed scenario: its actors, how long users log in before the bots start (a day: trust
    /// as on a server that has been running; zero: the day the greylist is deployed), and what it
    /// changes in the configuration under test.
    struct Scenario {
        var name: String
        var actors: [SimulatedActor]
        var warmUp: Int64 = Simulation.day
        var adjust: (inout GreylistConfiguration) -> Void = { _ in }
    }

    /// Twenty users behind one office NAT address, logging in every 1–3 hours.
    static func officeUsers(_ office: IPAddress, _ random: inout SeededRandom) -> [SimulatedActor] {
        (0..<20).map { index in
            let (next, first) = periodic(2 * hour, jitter: hour)
            return SimulatedActor(role: .user(account: "office\(index)", passwordTypo: 0.05, usernameTypo: 0.02),
                                  address: { _, _ in office }, nextAttempt: next, firstAttempt: first(&random))
        }
    }

    /// Every scenario.
    static func all(seed: UInt64) -> [Scenario] {
        var random = SeededRandom(state: seed)
        var scenarios: [Scenario] = []
        scenarios.append(Scenario(name: "steady botnet, 300 sources", actors: legitimateUsers(&random) + bots(300, names: botNames, &random)))
        scenarios.append(Scenario(name: "plateaus: 300, tripled 12 h a day", actors: legitimateUsers(&random) + bots(300, names: botNames, &random)
            + bots(600, names: botNames, active: inPlateau, &random)))
        var rotating = legitimateUsers(&random)
        for index in 0..<300 {
            let network: UInt64 = 0x2001_0DB8_0000_0000 | UInt64(index) << 16
            let (next, first) = periodic(10 * minute, jitter: 2 * minute)
            rotating.append(SimulatedActor(role: .bot(names: botNames, kind: .unknownAccount),
                                           address: { random, _ in Addresses.ipv6(in: network, using: &random) },
                                           nextAttempt: next, firstAttempt: first(&random)))
        }
        scenarios.append(Scenario(name: "IPv6 bots rotating in their /64", actors: rotating))
        scenarios.append(Scenario(name: "unknown names (admin, test, …), 300 sources", actors: legitimateUsers(&random) + bots(300, names: dictionaryNames, &random)))
        var spraying = legitimateUsers(&random)
        spraying += bots(300, names: ["user7"], kind: .invalidCredentials, &random)
        let (phoneNext, phoneFirst) = periodic(hour, jitter: 30 * minute)
        spraying.append(SimulatedActor(role: .user(account: "user7", passwordTypo: 0.2, usernameTypo: 0),
                                       address: { random, _ in Addresses.ipv4(in: 0x6440_0000, prefix: 10, using: &random) },
                                       nextAttempt: phoneNext, firstAttempt: phoneFirst(&random)))
        scenarios.append(Scenario(name: "spraying user7 from 300 sources (owner on home + phone)", actors: spraying))
        var hosted = legitimateUsers(&random)
        for index in 0..<50 {
            let address = IPAddress(ipv4: 0xC633_6400 + UInt32(index * 5))  // 198.51.100.0/24, a hosting range
            let (next, first) = periodic(10 * minute, jitter: 2 * minute)
            hosted.append(SimulatedActor(role: .bot(names: botNames, kind: .unknownAccount), address: { _, _ in address },
                                         nextAttempt: next, firstAttempt: first(&random)))
        }
        scenarios.append(Scenario(name: "50 bots in one hosting /24", actors: hosted))
        var nat = legitimateUsers(&random)
        let office = IPAddress(ipv4: 0xCB00_710A)  // 203.0.113.10
        for index in 0..<20 {
            let (next, first) = periodic(2 * hour, jitter: hour)
            nat.append(SimulatedActor(role: .user(account: "office\(index)", passwordTypo: 0.05, usernameTypo: 0.02),
                                      address: { _, _ in office }, nextAttempt: next, firstAttempt: first(&random)))
        }
        let (botNext, botFirst) = periodic(10 * minute, jitter: 2 * minute)
        nat.append(SimulatedActor(role: .bot(names: botNames, kind: .unknownAccount), address: { _, _ in office },
                                  nextAttempt: botNext, firstAttempt: botFirst(&random)))
        scenarios.append(Scenario(name: "a bot behind an office NAT with 20 users", actors: nat))
        scenarios.append(Scenario(name: "slow dictionary bots: 300 sources, one try every 5 h", actors: legitimateUsers(&random)
            + bots(300, names: dictionaryNames, period: 5 * hour, &random)))
        // An infected machine at the office guessing the passwords of five existing accounts (a
        // leaked list), every 10 minutes, from the address twenty users log in from.
        let guessingOffice = IPAddress(ipv4: 0xCB00_710B)  // 203.0.113.11
        let (guessNext, guessFirst) = periodic(10 * minute, jitter: 2 * minute)
        scenarios.append(Scenario(name: "a bot guessing 5 existing accounts behind a trusted office NAT (20 users)", actors: legitimateUsers(&random)
            + officeUsers(guessingOffice, &random)
            + [SimulatedActor(role: .bot(names: (0..<5).map { "user\($0)" }, kind: .invalidCredentials), address: { _, _ in guessingOffice },
                              nextAttempt: guessNext, firstAttempt: guessFirst(&random))]))
        // The day the greylist is deployed: no user has logged in yet; the bot at the office
        // tries unknown names from the first minute.
        let newOffice = IPAddress(ipv4: 0xCB00_710C)  // 203.0.113.12
        func deploymentDay(_ random: inout SeededRandom) -> [SimulatedActor] {
            let (next, first) = periodic(10 * minute, jitter: 2 * minute)
            return legitimateUsers(&random) + officeUsers(newOffice, &random)
                + [SimulatedActor(role: .bot(names: botNames, kind: .unknownAccount), address: { _, _ in newOffice },
                                  nextAttempt: next, firstAttempt: first(&random))]
        }
        scenarios.append(Scenario(name: "deployment day: a bot behind an office NAT, no history", actors: deploymentDay(&random), warmUp: 0))
        scenarios.append(Scenario(name: "deployment day, the office in softTrust", actors: deploymentDay(&random), warmUp: 0,
                                  adjust: { $0.softTrust.append(IPNetwork(host: newOffice)) }))
        return scenarios
    }
}
