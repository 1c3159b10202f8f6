import Greylist

/// One simulated source of logins: a bot or a legitimate user.
struct SimulatedActor {
    enum Role {
        /// A bot: every attempt fails with `kind`, under a name from `names`.
        case bot(names: [String], kind: AuthenticationFailure)
        /// A user with an account: mistypes the password or the username now and then, and
        /// retries a few seconds later.
        case user(account: String, passwordTypo: Double, usernameTypo: Double)
    }

    var role: Role
    /// Where the next attempt comes from; called once per attempt.
    var address: (inout SeededRandom, Int64) -> IPAddress
    /// When the next attempt after one at `time` happens (nil: no more today).
    var nextAttempt: (inout SeededRandom, Int64) -> Int64?
    /// When the first attempt happens.
    var firstAttempt: Int64

    var isBot: Bool {
        if case .bot = role { return true } else { return false }
    }
}

/// Address helpers for scenarios.
enum Addresses {
    /// A random IPv4 address inside `base`/`prefix`.
    static func ipv4(in base: UInt32, prefix: Int, using random: inout SeededRandom) -> IPAddress {
        let host = prefix == 32 ? 0 : UInt32.random(in: 0...(UInt32.max >> UInt32(prefix)), using: &random)
        return IPAddress(ipv4: base | host)
    }

    /// An IPv6 address in the /64 `network` (high 64 bits), random low bits.
    static func ipv6(in network: UInt64, using random: inout SeededRandom) -> IPAddress {
        IPAddress(bits: UInt128(network) << 64 | UInt128(UInt64.random(in: 1...UInt64.max, using: &random)))
    }
}
