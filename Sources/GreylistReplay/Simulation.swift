import Greylist

/// Drives a greylist through one scenario: every attempt is a connection (`shouldAccept`), and an
/// accepted one a login (`recordFailedAuth` or `recordSuccessfulAuth`), in simulated time.
struct Simulation {
    /// What one scenario measured over the measured day.
    struct Result {
        var name: String
        var attackTries = 0
        var refusedBeforeTLS = 0
        var reachedTLS = 0
        var attackingKeys: Set<IPNetwork> = []
        var users: Set<String> = []
        var lockedOut: Set<String> = []
        var userLogins = 0
        /// Password guesses on existing accounts that reached the credential check, by account.
        var guesses: [String: Int] = [:]

        /// Guesses that reached the credential check per targeted existing account (nil: the
        /// scenario's bots guess no existing account).
        var guessesPerAccount: Double? {
            guesses.isEmpty ? nil : Double(guesses.values.reduce(0, +)) / Double(guesses.count)
        }

        /// Tries that reached TLS per attacking key.
        var triesPerKey: Double {
            attackingKeys.isEmpty ? 0 : Double(reachedTLS) / Double(attackingKeys.count)
        }

        /// Share of attack tries refused before TLS.
        var refusedShare: Double {
            attackTries == 0 ? 0 : Double(refusedBeforeTLS) / Double(attackTries)
        }
    }

    private struct Event: Comparable {
        var time: Int64
        var actor: Int
        var isRetry: Bool

        static func < (lhs: Event, rhs: Event) -> Bool {
            (lhs.time, lhs.actor) < (rhs.time, rhs.actor)
        }
    }

    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    /// Runs `actors` for `warmUp` (bots silent, nothing counted) and then one measured day.
    static func run(name: String, actors: [SimulatedActor], configuration: GreylistConfiguration, seed: UInt64,
                    warmUp: Int64 = day) async throws -> Result {
        let start: Int64 = 1_800_000_000_000
        let clock = ReplayClock(start: start)
        let greylist = try Greylist(configuration: configuration, clock: clock.wallClock)
        var random = SeededRandom(state: seed)
        var queue = MinimumHeap<Event>()
        for (index, actor) in actors.enumerated() {
            queue.insert(Event(time: actor.firstAttempt + (actor.isBot ? warmUp : 0), actor: index, isRetry: false))
        }
        var sessionAddress: [Int: IPAddress] = [:]
        var result = Result(name: name)
        let end = warmUp + day
        var nextPurge: Int64 = 10 * minute
        while let event = queue.removeMinimum(), event.time < end {
            while nextPurge <= event.time {
                clock.set(start + nextPurge)
                await greylist.purgeExpired()
                nextPurge += 10 * minute
            }
            clock.set(start + event.time)
            let measuring = event.time >= warmUp
            let actor = actors[event.actor]
            let address = event.isRetry ? sessionAddress[event.actor]! : actor.address(&random, event.time)
            sessionAddress[event.actor] = address
            let accepted = greylist.shouldAccept(ip: address)
            switch actor.role {
            case .bot(let names, let kind):
                if measuring {
                    result.attackTries += 1
                    result.attackingKeys.insert(key(address, configuration))
                    if accepted { result.reachedTLS += 1 } else { result.refusedBeforeTLS += 1 }
                }
                if accepted {
                    let name = names.randomElement(using: &random)!
                    // A guess reaches the credential check unless the greylist says not to check it.
                    if measuring && kind == .invalidCredentials && greylist.shouldVerify(user: name, ip: address) {
                        result.guesses[name, default: 0] += 1
                    }
                    await greylist.recordFailedAuth(user: name, ip: address, kind: kind)
                }
                if let next = actor.nextAttempt(&random, event.time) { queue.insert(Event(time: next, actor: event.actor, isRetry: false)) }
            case .user(let account, let passwordTypo, let usernameTypo):
                if measuring { result.users.insert(account) }
                guard accepted else {
                    if measuring { result.lockedOut.insert(account) }
                    if let next = actor.nextAttempt(&random, event.time) { queue.insert(Event(time: next, actor: event.actor, isRetry: false)) }
                    continue
                }
                if !event.isRetry && random.chance(passwordTypo) {
                    await greylist.recordFailedAuth(user: account, ip: address, kind: .invalidCredentials)
                    queue.insert(Event(time: event.time + 5_000, actor: event.actor, isRetry: true))
                } else if !event.isRetry && random.chance(usernameTypo) {
                    await greylist.recordFailedAuth(user: String(account.reversed()), ip: address, kind: .unknownAccount)
                    queue.insert(Event(time: event.time + 5_000, actor: event.actor, isRetry: true))
                } else {
                    await greylist.recordSuccessfulAuth(user: account, ip: address)
                    if measuring { result.userLogins += 1 }
                    if let next = actor.nextAttempt(&random, event.time) { queue.insert(Event(time: next, actor: event.actor, isRetry: false)) }
                }
            }
        }
        return result
    }

    private static func key(_ address: IPAddress, _ configuration: GreylistConfiguration) -> IPNetwork {
        try! IPNetwork(address: address, prefixLength: address.isIPv4 ? configuration.prefixLength.ipv4 : configuration.prefixLength.ipv6)
    }
}
