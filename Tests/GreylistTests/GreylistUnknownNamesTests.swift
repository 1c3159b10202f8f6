import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

/// Bot names: unknown usernames that several unrelated sources try, through the public API with
/// a clock driven by hand.
@Suite struct GreylistUnknownNamesTests {
    let clock = ManualClock()

    func make(_ unknownNames: GreylistConfiguration.UnknownNames = .init()) throws -> Greylist {
        try Greylist(configuration: GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(),
                                                          spraying: .init(distinctSources: 0), ranges: .init(bannedKeys: 0),
                                                          unknownNames: unknownNames),
                     clock: clock.wallClock)
    }

    @Test("a slow dictionary botnet: once three untrusted sources tried a name, the next source's first try on it bans for a day")
    func slowBotnet() async throws {
        let greylist = try make()
        // One try every five hours per source: alone in every rule's window, never banned by one.
        for index in 1...2 {
            #expect(await greylist.recordFailedAuth(user: "admin", ip: .literal("45.0.0.\(index)"), kind: .unknownAccount)
                == .counted(rules: ["unknown-accounts"]))
            clock.advance(by: .seconds(5 * 3_600))
        }
        // The third source marks the name, and is banned for trying it.
        let third = await greylist.recordFailedAuth(user: "admin", ip: .literal("45.0.0.3"), kind: .unknownAccount)
        guard case .banned(let entry, _) = third else {
            Issue.record("the third source was not banned: \(third)")
            return
        }
        #expect(entry.reason == .rule("unknown-name"))
        #expect(entry.expiresAt == entry.bannedAt.addingTimeInterval(86_400))
        // Two days on, a new source's first try on the name bans it.
        clock.advance(by: .seconds(2 * 86_400))
        #expect(await greylist.recordFailedAuth(user: "admin", ip: .literal("45.0.0.4"), kind: .unknownAccount).closesStream)
        #expect(!greylist.shouldAccept(ip: .literal("45.0.0.4")))
        // Another unknown name from a new source is only counted.
        #expect(await greylist.recordFailedAuth(user: "someone", ip: .literal("45.0.0.5"), kind: .unknownAccount)
            == .counted(rules: ["unknown-accounts"]))
        let statistics = await greylist.statistics()
        #expect(statistics.unknownNameBans == 2)
        #expect(statistics.namesMarked == 1)
    }

    @Test("a name forgotten after its window and mark: sources weeks apart never mark it")
    func window() async throws {
        let greylist = try make()
        for index in 1...4 {
            #expect(!(await greylist.recordFailedAuth(user: "info", ip: .literal("45.0.1.\(index)"), kind: .unknownAccount).closesStream))
            clock.advance(by: .seconds(4 * 86_400))
        }
    }

    @Test("users who mistype a name on new addresses and then log in never mark it; a trusted key is never banned for a marked name")
    func typosAndTrust() async throws {
        let greylist = try make()
        for index in 1...6 {
            let phone = IPAddress.literal("100.64.0.\(index)")
            #expect(!(await greylist.recordFailedAuth(user: "alcie", ip: phone, kind: .unknownAccount).closesStream), "typo #\(index)")
            await greylist.recordSuccessfulAuth(user: "alice", ip: phone)
            clock.advance(by: .seconds(3_600))
        }
        #expect(await greylist.statistics().namesMarked == 0)

        let office = IPAddress.literal("203.0.113.10")
        await greylist.recordSuccessfulAuth(user: "bob", ip: office)
        for index in 1...3 {
            _ = await greylist.recordFailedAuth(user: "root", ip: .literal("45.0.2.\(index)"), kind: .unknownAccount)
        }
        #expect(await greylist.statistics().namesMarked == 1)
        #expect(!(await greylist.recordFailedAuth(user: "root", ip: office, kind: .unknownAccount).isBanned))
        #expect(greylist.shouldAccept(ip: office))
    }

    @Test("off with distinctSources 0; a bad setting is named; the section round-trips through JSON")
    func configuration() async throws {
        let off = try make(.init(distinctSources: 0))
        for index in 1...5 {
            #expect(!(await off.recordFailedAuth(user: "admin", ip: .literal("45.0.3.\(index)"), kind: .unknownAccount).isBanned))
            clock.advance(by: .seconds(5 * 3_600))
        }
        #expect(throws: GreylistError.self) { try Greylist(configuration: GreylistConfiguration(unknownNames: .init(distinctSources: 1))) }
        do {
            _ = try GreylistConfiguration(json: Data(#"{"unknownNames": {"distinctSources": 1, "banFor": "0s"}}"#.utf8))
            Issue.record("accepted a bad unknownNames section")
        } catch {
            #expect("\(error)".contains("greylist.unknownNames.distinctSources = 1"), "\(error)")
            #expect("\(error)".contains("greylist.unknownNames.banFor"), "\(error)")
        }
        let custom = GreylistConfiguration(unknownNames: .init(distinctSources: 4, window: .seconds(3_600), markFor: .seconds(7_200), banFor: .seconds(600), maxTrackedNames: 50))
        #expect(try GreylistConfiguration(json: Data(custom.jsonValue.description.utf8)).unknownNames == custom.unknownNames)
    }
}
