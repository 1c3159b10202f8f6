import GreylistTestSupport
import Foundation
import Testing
@testable import Greylist

@Suite struct ConfigurationTests {
    @Test("reads every documented key of the file form")
    func readsEveryKey() throws {
        let json = """
        {
          "dryRun": true,
          "allowlist": ["127.0.0.0/8", "2001:db8::/32"],
          "prefixLength": {"ipv4": 24, "ipv6": 48},
          "rules": [
            {"name": "botnet", "pattern": "^bad_user_[0-9]{5,}$", "maxFailures": 1, "window": "10m", "banFor": "4h"},
            {"name": "any", "maxFailures": 5, "window": 300, "banFor": "1h30m"}
          ],
          "escalation": {"factor": 3, "maxBan": "7d", "forgetAfter": "1d"},
          "limits": {"maxBans": 1000, "maxTrackedAddresses": 2000},
          "cleanupInterval": "90s"
        }
        """
        let configuration = try GreylistConfiguration(json: Data(json.utf8))
        #expect(configuration.dryRun)
        #expect(configuration.allowlist == [.cidr("127.0.0.0/8"), .cidr("2001:db8::/32")])
        #expect(configuration.prefixLength == .init(ipv4: 24, ipv6: 48))
        #expect(configuration.rules == [
            GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", maxFailures: 1, window: .seconds(600), banFor: .seconds(14_400)),
            GreylistRule(name: "any", pattern: nil, maxFailures: 5, window: .seconds(300), banFor: .seconds(5_400)),
        ])
        #expect(configuration.escalation == .init(factor: 3, maxBan: .seconds(604_800), forgetAfter: .seconds(86_400)))
        #expect(configuration.limits == .init(maxBans: 1_000, maxTrackedAddresses: 2_000))
        #expect(configuration.cleanupInterval == .seconds(90))
    }

    @Test("an empty object is the all-defaults configuration")
    func emptyIsDefault() throws {
        #expect(try GreylistConfiguration(json: Data("{}".utf8)) == GreylistConfiguration())
    }

    @Test("reports every bad field at once with its path and value")
    func reportsEveryIssue() {
        let json = """
        {
          "allowlist": ["10.0.0.0/33", 7],
          "prefixLength": {"ipv4": 0, "ipv6": 129},
          "rules": [
            {"name": "broken", "pattern": "^(bad", "banfor": "4h"},
            {"name": "negative", "window": "-5m", "banFor": -3, "maxFailures": 0},
            {"pattern": "x"},
            {"name": "broken", "banFor": "4x"}
          ],
          "escalation": {"factor": 0.5, "maxBan": "0s"},
          "limits": {"maxBans": -1, "maxTrackedAddresses": "many"},
          "cleanupInterval": true,
          "dryrun": false
        }
        """
        do {
            _ = try GreylistConfiguration(json: Data(json.utf8))
            Issue.record("accepted a bad configuration")
        } catch {
            let issues = error.issues
            guard error.code == .invalidConfiguration else {
                Issue.record("unexpected error \(error)")
                return
            }
            let paths = issues.map(\.path)
            for expected in [
                "greylist.allowlist[0]", "greylist.allowlist[1]",
                "greylist.prefixLength.ipv4", "greylist.prefixLength.ipv6",
                "greylist.rules[0].pattern", "greylist.rules[0].banfor",
                "greylist.rules[1].window", "greylist.rules[1].banFor", "greylist.rules[1].maxFailures",
                "greylist.rules[2].name", "greylist.rules[3].banFor", "greylist.rules[3].name",
                "greylist.escalation.factor", "greylist.escalation.maxBan",
                "greylist.limits.maxBans", "greylist.limits.maxTrackedAddresses",
                "greylist.cleanupInterval", "greylist.dryrun",
            ] {
                #expect(paths.contains(expected), "missing \(expected) in \(paths)")
            }
            let text = error.description
            #expect(text.contains("\"10.0.0.0/33\""))
            #expect(text.contains("greylist.rules[0].pattern = \"^(bad\": does not compile"))
            #expect(text.contains("greylist.rules[0].banfor = \"4h\": unknown key (did you mean \"banFor\"?)"))
            #expect(text.contains("greylist.rules[1].window = \"-5m\": a duration cannot be negative"))
            #expect(text.contains("greylist.rules[3].banFor = \"4x\": unknown unit \"x\""))
            #expect(text.contains("greylist.dryrun = false: unknown key (did you mean \"dryRun\"?)"))
        }
    }

    @Test("durations may write their units out, with spaces: \"2 hours\", \"1 hour 30 minutes\"", arguments: [
        ("2 hours", 7_200), ("1 hour 30 minutes", 5_400), (" 7 Days ", 604_800), ("90 seconds", 90), ("1h 30m", 5_400),
        ("2 weeks", 1_209_600), ("1 min", 60),
    ])
    func writtenUnits(_ text: String, _ seconds: Int64) throws {
        let configuration = try GreylistConfiguration(json: Data(#"{"cleanupInterval": "\#(text)"}"#.utf8))
        #expect(configuration.cleanupInterval == .seconds(seconds))
    }

    @Test("an unknown written-out unit is named, with the units that exist")
    func unknownWrittenUnit() {
        do {
            _ = try GreylistConfiguration(json: Data(#"{"cleanupInterval": "2 fortnights"}"#.utf8))
            Issue.record("accepted fortnights")
        } catch {
            #expect(error.description.contains(#"greylist.cleanupInterval = "2 fortnights": unknown unit "fortnights" (use ms, s, m, h, d or w, or seconds, minutes, hours, days, weeks)"#),
                    "\(error.description)")
        }
    }

    @Test("an unknown key gets the known key within two edits as a suggestion, and none when nothing is close", arguments: [
        (#"{"rules": [{"name": "a", "maxFailure": 10}]}"#, "greylist.rules[0].maxFailure = 10: unknown key (did you mean \"maxFailures\"?)"),
        (#"{"allowlsit": []}"#, "greylist.allowlsit = []: unknown key (did you mean \"allowlist\"?)"),
        (#"{"trust": {"memroy": "1d"}}"#, "greylist.trust.memroy = \"1d\": unknown key (did you mean \"memory\"?)"),
        (#"{"colour": 1}"#, "greylist.colour = 1: unknown key"),
    ])
    func suggestions(_ json: String, _ expected: String) {
        do {
            _ = try GreylistConfiguration(json: Data(json.utf8))
            Issue.record("accepted \(json)")
        } catch {
            let line = error.description.split(separator: "\n").first { $0.contains("unknown key") }.map(String.init) ?? ""
            #expect(line.hasSuffix(expected), "\(error.description)")
        }
    }

    @Test("refuses text that is not JSON, saying so")
    func refusesNonJSON() {
        #expect(throws: GreylistError.self) { try GreylistConfiguration(json: Data("{ rules: ".utf8)) }
    }

    @Test("reads durations with units or whole seconds", arguments: [
        ("\"90s\"", 90_000), ("\"10m\"", 600_000), ("\"4h\"", 14_400_000), ("\"7d\"", 604_800_000),
        ("\"1h30m\"", 5_400_000), ("\"250ms\"", 250), ("\"2w\"", 1_209_600_000), ("45", 45_000),
    ] as [(String, Int64)])
    func readsDurations(text: String, milliseconds: Int64) throws {
        let configuration = try GreylistConfiguration(json: Data("{\"cleanupInterval\": \(text)}".utf8))
        #expect(configuration.cleanupInterval == .milliseconds(milliseconds))
    }

    @Test("refuses durations without a unit, with a bad unit, negative or zero", arguments: [
        "\"90\"", "\"10 x\"", "\"h\"", "\"-1s\"", "-1", "0", "\"0s\"", "1.5", "\"\"", "\"99999999999999999999d\"",
    ])
    func refusesDurations(text: String) {
        #expect(throws: GreylistError.self) {
            try GreylistConfiguration(json: Data("{\"cleanupInterval\": \(text)}".utf8))
        }
    }

    @Test("writes the file form and reads it back unchanged")
    func roundTrips() throws {
        let original = GreylistConfiguration(
            dryRun: true, allowlist: [.cidr("192.0.2.0/24")], prefixLength: .init(ipv4: 30, ipv6: 56),
            rules: [botnetRule, GreylistRule(name: "slow", maxFailures: 10, window: .seconds(3_600), banFor: .seconds(5_400))],
            escalation: .init(factor: 1.5, maxBan: .seconds(86_400), forgetAfter: .seconds(7_200)),
            limits: .init(maxBans: 50, maxTrackedAddresses: 60), cleanupInterval: .seconds(30)
        )
        let data = try JSONEncoder().encode(original)
        #expect(try GreylistConfiguration(json: data) == original)
        #expect(try JSONDecoder().decode(GreylistConfiguration.self, from: data) == original)
    }

    @Test("validate() finds a pattern that does not compile when built in code")
    func validatesInCode() {
        let configuration = GreylistConfiguration(rules: [GreylistRule(name: "bad", pattern: "[a-")])
        #expect(throws: GreylistError.self) { try configuration.validate() }
        #expect(throws: GreylistError.self) { try Greylist(configuration: configuration) }
    }

    @Test("the shipped config.example.json has a valid greylist section")
    func exampleFileIsValid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config.example.json")
        let file = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url))
        guard case .object(let sections) = file else {
            Issue.record("config.example.json is not an object")
            return
        }
        var issues: [ConfigurationIssue] = []
        let configuration = GreylistConfiguration(reading: sections["greylist"], path: "greylist") { issues.append($0) }
        #expect(issues.isEmpty, "\(issues)")
        #expect(!configuration.rules.isEmpty)
    }
}

@Suite struct JudgmentConfigurationTests {
    @Test("reads trust, knocking, spraying, ranges and rule counts from the file form, and writes them back")
    func readsJudgmentKeys() throws {
        let json = """
        {
          "rules": [{"name": "unknown", "maxFailures": 2, "window": "1h", "banFor": "4h", "counts": ["unknownAccount"]}],
          "trust": {"memory": "7d", "maxTrustedKeys": 500, "revokeAfterAccounts": 4, "revokeWindow": "30m"},
          "knocking": {"extendBans": false, "extendBy": "2h"},
          "spraying": {"distinctSources": 10, "window": "2h", "markFor": "12h", "failuresToBan": 1, "banFor": "1h", "maxTrackedAccounts": 99},
          "ranges": {"bannedKeys": 0, "ipv4PrefixLength": 22, "ipv6PrefixLength": 40, "window": "6h", "banFor": "2h", "maxTrackedRanges": 77}
        }
        """
        let configuration = try GreylistConfiguration(json: Data(json.utf8))
        #expect(configuration.rules.first?.counts == [.unknownAccount])
        #expect(configuration.trust == .init(memory: .seconds(7 * 86_400), maxTrustedKeys: 500, revokeAfterAccounts: 4, revokeWindow: .seconds(1_800)))
        #expect(configuration.knocking == .init(extendBans: false, extendBy: .seconds(7_200)))
        #expect(configuration.spraying == .init(distinctSources: 10, window: .seconds(7_200), markFor: .seconds(43_200), failuresToBan: 1,
                                                banFor: .seconds(3_600), maxTrackedAccounts: 99))
        #expect(configuration.ranges == .init(bannedKeys: 0, ipv4PrefixLength: 22, ipv6PrefixLength: 40, window: .seconds(21_600),
                                              banFor: .seconds(7_200), maxTrackedRanges: 77))
        let written = try JSONEncoder().encode(configuration)
        #expect(try GreylistConfiguration(json: written) == configuration)
    }

    @Test("bad judgment values are reported with their paths", arguments: [
        (#"{"trust": {"revokeAfterAccounts": 1}}"#, "greylist.trust.revokeAfterAccounts"),
        (#"{"spraying": {"distinctSources": 1}}"#, "greylist.spraying.distinctSources"),
        (#"{"spraying": {"failuresToBan": 0}}"#, "greylist.spraying.failuresToBan"),
        (#"{"ranges": {"ipv4PrefixLength": 40}}"#, "greylist.ranges.ipv4PrefixLength"),
        (#"{"knocking": {"extendBy": "0s"}}"#, "greylist.knocking.extendBy"),
        (#"{"rules": [{"name": "r", "counts": ["serviceUnavailable"]}]}"#, "greylist.rules[0].counts[0]"),
        (#"{"trust": {"memroy": "1d"}}"#, "greylist.trust.memroy"),
    ])
    func badJudgmentValues(json: String, path: String) {
        do {
            _ = try GreylistConfiguration(json: Data(json.utf8))
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.contains(path), "\(error)")
        }
    }
}
