import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

/// Shared addresses (an office behind NAT) and the operator's soft-trust list, through the
/// public API with a clock driven by hand.
@Suite struct GreylistSharedAddressTests {
    let clock = ManualClock()
    let office = IPAddress.literal("203.0.113.10")

    func make(softTrust: [IPNetwork] = []) throws -> Greylist {
        try Greylist(configuration: GreylistConfiguration(softTrust: softTrust, rules: GreylistConfiguration.recommendedRules()),
                     clock: clock.wallClock)
    }

    @Test("a bot behind an office NAT guessing existing accounts: nobody is refused, its failures end their streams, each account gets at most 10 checks a day")
    func officeNAT() async throws {
        let greylist = try make()
        for index in 0..<20 { await greylist.recordSuccessfulAuth(user: "office\(index)", ip: office) }
        clock.advance(by: .seconds(3_600))
        var checked: [String: Int] = [:]
        for attempt in 0..<60 {
            let account = "user\(attempt % 3)"
            if greylist.shouldVerify(user: account, ip: office) {
                checked[account, default: 0] += 1
                let outcome = await greylist.recordFailedAuth(user: account, ip: office, kind: .invalidCredentials)
                #expect(outcome.closesStream, "a failure on an account that never logged in here ends its stream")
            }
            #expect(greylist.shouldAccept(ip: office), "the office is never refused (attempt \(attempt))")
            clock.advance(by: .seconds(60))
        }
        #expect(checked == ["user0": 10, "user1": 10, "user2": 10])
        #expect(await greylist.trusted().map(\.network) == [.cidr("203.0.113.10/32")], "wrong passwords on many accounts did not take the address away")
        // The budget is per (address, account): elsewhere, and other accounts, are checked.
        #expect(greylist.shouldVerify(user: "user0", ip: .literal("198.51.100.7")))
        #expect(greylist.shouldVerify(user: "user9", ip: office))
        #expect(greylist.shouldVerify(user: "office3", ip: office))
        // A day after the first guess the budget is back.
        clock.advance(by: .seconds(86_400))
        #expect(greylist.shouldVerify(user: "user0", ip: office))
        // The office's own users keep logging in; one who mistypes is answered as before.
        #expect(!(await greylist.recordFailedAuth(user: "office3", ip: office, kind: .invalidCredentials).closesStream))
    }

    @Test("a key with only one or two accounts (a bot with a stolen password) still loses its trust to wrong passwords on many accounts")
    func fewAccountsNoShield() async throws {
        let greylist = try make()
        let bot = IPAddress.literal("45.0.0.9")
        await greylist.recordSuccessfulAuth(user: "stolen", ip: bot)
        await greylist.recordSuccessfulAuth(user: "alsostolen", ip: bot)
        for account in ["a", "b", "c"] {
            _ = await greylist.recordFailedAuth(user: account, ip: bot, kind: .invalidCredentials)
        }
        #expect(await greylist.trusted().isEmpty)
        _ = await greylist.recordFailedAuth(user: "nobody1", ip: bot, kind: .unknownAccount)
        #expect(await greylist.recordFailedAuth(user: "nobody2", ip: bot, kind: .unknownAccount).isBanned)
        #expect(!greylist.shouldAccept(ip: bot), "its ban is hard")
    }

    @Test("deployment day: an office in softTrust has no history, yet the bot's ban there is soft; without the entry it is hard")
    func deploymentDay() async throws {
        let without = try make()
        _ = await without.recordFailedAuth(user: "admin", ip: office, kind: .unknownAccount)
        #expect(await without.recordFailedAuth(user: "test", ip: office, kind: .unknownAccount).isBanned)
        #expect(!without.shouldAccept(ip: office), "no history: the whole office is refused")

        let with = try make(softTrust: [.cidr("203.0.113.0/24")])
        _ = await with.recordFailedAuth(user: "admin", ip: office, kind: .unknownAccount)
        let second = await with.recordFailedAuth(user: "test", ip: office, kind: .unknownAccount)
        #expect(second.closesStream, "the bot's stream ends")
        #expect(with.shouldAccept(ip: office), "the office's users are still served")
        #expect(try #require(await with.list().first).isSoft)
        // Guesses from it are budgeted like any shared address's.
        for _ in 0..<10 { _ = await with.recordFailedAuth(user: "alice", ip: office, kind: .invalidCredentials) }
        #expect(!with.shouldVerify(user: "alice", ip: office))
        // Outside the network, nothing changes.
        _ = await with.recordFailedAuth(user: "admin", ip: .literal("45.0.0.1"), kind: .unknownAccount)
        #expect(await with.recordFailedAuth(user: "test", ip: .literal("45.0.0.1"), kind: .unknownAccount).isBanned)
        #expect(!with.shouldAccept(ip: .literal("45.0.0.1")))
        // A reload takes an entry away: the ban is hard again.
        try await with.apply(GreylistConfiguration(rules: GreylistConfiguration.recommendedRules()))
        #expect(!with.shouldAccept(ip: office))
    }

    @Test("the new trust settings and softTrust are validated, named, and round-trip through JSON")
    func configuration() throws {
        do {
            _ = try GreylistConfiguration(json: Data(#"{"softTrust": ["10.0.0.0/33"], "trust": {"sharedAddressAccounts": 1, "maxGuessesPerAccount": 0}}"#.utf8))
            Issue.record("accepted bad settings")
        } catch {
            let text = "\(error)"
            #expect(text.contains("greylist.softTrust"), "\(text)")
            #expect(text.contains("greylist.trust.sharedAddressAccounts"), "\(text)")
            #expect(text.contains("greylist.trust.maxGuessesPerAccount"), "\(text)")
        }
        let custom = GreylistConfiguration(softTrust: [.cidr("192.0.2.0/24")],
                                           trust: .init(sharedAddressAccounts: 5, maxGuessesPerAccount: 4, guessWindow: .seconds(7_200)))
        let read = try GreylistConfiguration(json: Data(custom.jsonValue.description.utf8))
        #expect(read.softTrust == custom.softTrust)
        #expect(read.trust == custom.trust)
    }
}
