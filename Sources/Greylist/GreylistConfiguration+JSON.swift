#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The configuration file form: the `greylist` object of a JSON file, with these keys only:
/// `dryRun`, `allowlist`, `softTrust`, `prefixLength.ipv4`, `prefixLength.ipv6`, `rules[].name`,
/// `rules[].pattern`, `rules[].maxFailures`, `rules[].window`, `rules[].banFor`,
/// `escalation.factor`, `escalation.maxBan`, `escalation.forgetAfter`, `limits.maxBans`,
/// `limits.maxTrackedAddresses`, `limits.maxRemoteBan`, `trust.*`, `knocking.*`, `spraying.*`, `ranges.*`, `unknownNames.*`, `rules[].counts`,
/// `cleanupInterval`, `stateDirectory`, `stateSync`. Durations are text with a unit (`"90s"`,
/// `"10m"`, `"4h"`, `"7d"`) or whole seconds.
extension GreylistConfiguration: Codable {
    /// Reads and validates the JSON text of a `greylist` object.
    ///
    /// - Parameter json: The object's JSON text.
    /// - Throws: ``GreylistError/invalidConfiguration(_:)`` listing every bad or unknown field.
    public init(json: Data) throws(GreylistError) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: json)
        } catch {
            throw .invalidConfiguration([ConfigurationIssue(path: "greylist", value: "", reason: "not valid JSON: \(error)")])
        }
        var issues: [ConfigurationIssue] = []
        let configuration = GreylistConfiguration(reading: value, path: "greylist") { issues.append($0) }
        guard issues.isEmpty else { throw .invalidConfiguration(issues) }
        self = configuration
    }

    /// Reads a `greylist` section, reporting every bad field and falling back to defaults for them.
    ///
    /// - Parameters:
    ///   - value: The section, or `nil` when the file has none (all defaults).
    ///   - path: The section's path in messages, usually `greylist`.
    ///   - report: Called for every issue: type errors, bad values, unknown keys, and
    ///     the checks of ``validate()``.
    package init(reading value: JSONValue?, path: String, report: @escaping (ConfigurationIssue) -> Void) {
        let defaults = GreylistConfiguration()
        var reader = ConfigurationReader(value, path: path, report: report)
        self.init()
        dryRun = reader.bool("dryRun", default: defaults.dryRun)
        allowlist = reader.networks("allowlist", default: defaults.allowlist)
        softTrust = reader.networks("softTrust", default: defaults.softTrust)
        prefixLength = reader.object("prefixLength") { nested in
            PrefixLength(
                ipv4: nested.integer("ipv4", default: defaults.prefixLength.ipv4, in: 1...32),
                ipv6: nested.integer("ipv6", default: defaults.prefixLength.ipv6, in: 1...128)
            )
        }
        rules = reader.array("rules") { element, elementPath in
            Self.readRule(element, path: elementPath, report: report)
        } ?? defaults.rules
        escalation = reader.object("escalation") { nested in
            Escalation(
                factor: nested.number("factor", default: defaults.escalation.factor, in: 1...1_000),
                maxBan: nested.duration("maxBan", default: defaults.escalation.maxBan),
                forgetAfter: nested.duration("forgetAfter", default: defaults.escalation.forgetAfter, allowZero: true)
            )
        }
        limits = reader.object("limits") { nested in
            Limits(
                maxBans: nested.integer("maxBans", default: defaults.limits.maxBans, in: 1...100_000_000),
                maxTrackedAddresses: nested.integer("maxTrackedAddresses", default: defaults.limits.maxTrackedAddresses, in: 1...100_000_000),
                maxRemoteBan: nested.duration("maxRemoteBan", default: defaults.limits.maxRemoteBan)
            )
        }
        trust = reader.object("trust") { nested in
            Trust(
                memory: nested.duration("memory", default: defaults.trust.memory, allowZero: true),
                maxTrustedKeys: nested.integer("maxTrustedKeys", default: defaults.trust.maxTrustedKeys, in: 1...100_000_000),
                revokeAfterAccounts: nested.integer("revokeAfterAccounts", default: defaults.trust.revokeAfterAccounts, in: 2...1_000),
                revokeWindow: nested.duration("revokeWindow", default: defaults.trust.revokeWindow),
                sharedAddressAccounts: nested.integer("sharedAddressAccounts", default: defaults.trust.sharedAddressAccounts, in: 0...100_000),
                maxGuessesPerAccount: nested.integer("maxGuessesPerAccount", default: defaults.trust.maxGuessesPerAccount, in: 1...1_000_000),
                guessWindow: nested.duration("guessWindow", default: defaults.trust.guessWindow)
            )
        }
        knocking = reader.object("knocking") { nested in
            Knocking(
                extendBans: nested.bool("extendBans", default: defaults.knocking.extendBans),
                extendBy: nested.duration("extendBy", default: defaults.knocking.extendBy)
            )
        }
        spraying = reader.object("spraying") { nested in
            Spraying(
                distinctSources: nested.integer("distinctSources", default: defaults.spraying.distinctSources, in: 0...1_000),
                window: nested.duration("window", default: defaults.spraying.window),
                markFor: nested.duration("markFor", default: defaults.spraying.markFor),
                failuresToBan: nested.integer("failuresToBan", default: defaults.spraying.failuresToBan, in: 1...100),
                banFor: nested.duration("banFor", default: defaults.spraying.banFor),
                maxTrackedAccounts: nested.integer("maxTrackedAccounts", default: defaults.spraying.maxTrackedAccounts, in: 1...10_000_000)
            )
        }
        ranges = reader.object("ranges") { nested in
            Ranges(
                bannedKeys: nested.integer("bannedKeys", default: defaults.ranges.bannedKeys, in: 0...100_000),
                ipv4PrefixLength: nested.integer("ipv4PrefixLength", default: defaults.ranges.ipv4PrefixLength, in: 8...31),
                ipv6PrefixLength: nested.integer("ipv6PrefixLength", default: defaults.ranges.ipv6PrefixLength, in: 16...127),
                window: nested.duration("window", default: defaults.ranges.window),
                banFor: nested.duration("banFor", default: defaults.ranges.banFor),
                maxTrackedRanges: nested.integer("maxTrackedRanges", default: defaults.ranges.maxTrackedRanges, in: 1...10_000_000)
            )
        }
        unknownNames = reader.object("unknownNames") { nested in
            UnknownNames(
                distinctSources: nested.integer("distinctSources", default: defaults.unknownNames.distinctSources, in: 0...1_000),
                window: nested.duration("window", default: defaults.unknownNames.window),
                markFor: nested.duration("markFor", default: defaults.unknownNames.markFor),
                banFor: nested.duration("banFor", default: defaults.unknownNames.banFor),
                maxTrackedNames: nested.integer("maxTrackedNames", default: defaults.unknownNames.maxTrackedNames, in: 1...10_000_000)
            )
        }
        cleanupInterval = reader.duration("cleanupInterval", default: defaults.cleanupInterval)
        stateDirectory = reader.string("stateDirectory", default: defaults.stateDirectory)
        stateSync = reader.bool("stateSync", default: defaults.stateSync)
        reader.finish()
        // Type and range errors fell back to valid defaults above, so only real remaining problems
        // (patterns that do not compile, duplicate names) come out of the semantic check.
        for issue in issues(path: path) { report(issue) }
    }

    private static func readRule(_ value: JSONValue, path: String, report: @escaping (ConfigurationIssue) -> Void) -> GreylistRule? {
        guard case .object = value else {
            report(ConfigurationIssue(path: path, value: value.description, reason: "expected a rule object"))
            return nil
        }
        var reader = ConfigurationReader(value, path: path, report: report)
        let defaults = GreylistRule(name: "")
        // A nameless rule stays in the list (the semantic check reports it) so that later rules
        // keep their index in messages.
        let rule = GreylistRule(
            name: reader.string("name", default: "") ?? "",
            pattern: reader.string("pattern", default: nil),
            maxFailures: reader.integer("maxFailures", default: defaults.maxFailures, in: 1...1_000_000),
            window: reader.duration("window", default: defaults.window),
            banFor: reader.duration("banFor", default: defaults.banFor),
            counts: readCounts(&reader, default: defaults.counts, report: report)
        )
        reader.finish()
        return rule
    }

    /// A rule's `counts`: an array of `"invalidCredentials"` and `"unknownAccount"`.
    private static func readCounts(_ reader: inout ConfigurationReader, default fallback: Set<AuthenticationFailure>,
                                   report: @escaping (ConfigurationIssue) -> Void) -> Set<AuthenticationFailure> {
        let kinds = reader.array("counts") { element, elementPath -> AuthenticationFailure? in
            guard case .string(let text) = element, let kind = AuthenticationFailure(rawValue: text), kind.isClientFault else {
                report(ConfigurationIssue(path: elementPath, value: element.description,
                                          reason: "expected \"invalidCredentials\" or \"unknownAccount\""))
                return nil
            }
            return kind
        }
        return kinds.map(Set.init) ?? fallback
    }

    /// The configuration in its file form, durations written with units.
    package var jsonValue: JSONValue {
        func duration(_ value: Duration) -> JSONValue { .string(DurationText.format(milliseconds: value.wholeMilliseconds)) }
        var object: [String: JSONValue] = [
            "dryRun": .bool(dryRun),
            "allowlist": .array(allowlist.map { .string($0.description) }),
            "softTrust": .array(softTrust.map { .string($0.description) }),
            "prefixLength": .object(["ipv4": .integer(Int64(prefixLength.ipv4)), "ipv6": .integer(Int64(prefixLength.ipv6))]),
            "rules": .array(rules.map { rule in
                var object: [String: JSONValue] = [
                    "name": .string(rule.name),
                    "maxFailures": .integer(Int64(rule.maxFailures)),
                    "window": duration(rule.window),
                    "banFor": duration(rule.banFor),
                ]
                if let pattern = rule.pattern { object["pattern"] = .string(pattern) }
                object["counts"] = .array(rule.counts.map(\.rawValue).sorted().map { .string($0) })
                return .object(object)
            }),
            "escalation": .object([
                "factor": .number(escalation.factor),
                "maxBan": duration(escalation.maxBan),
                "forgetAfter": duration(escalation.forgetAfter),
            ]),
            "limits": .object([
                "maxBans": .integer(Int64(limits.maxBans)),
                "maxTrackedAddresses": .integer(Int64(limits.maxTrackedAddresses)),
                "maxRemoteBan": duration(limits.maxRemoteBan),
            ]),
            "trust": .object([
                "memory": duration(trust.memory),
                "maxTrustedKeys": .integer(Int64(trust.maxTrustedKeys)),
                "revokeAfterAccounts": .integer(Int64(trust.revokeAfterAccounts)),
                "revokeWindow": duration(trust.revokeWindow),
                "sharedAddressAccounts": .integer(Int64(trust.sharedAddressAccounts)),
                "maxGuessesPerAccount": .integer(Int64(trust.maxGuessesPerAccount)),
                "guessWindow": duration(trust.guessWindow),
            ]),
            "knocking": .object(["extendBans": .bool(knocking.extendBans), "extendBy": duration(knocking.extendBy)]),
            "spraying": .object([
                "distinctSources": .integer(Int64(spraying.distinctSources)),
                "window": duration(spraying.window),
                "markFor": duration(spraying.markFor),
                "failuresToBan": .integer(Int64(spraying.failuresToBan)),
                "banFor": duration(spraying.banFor),
                "maxTrackedAccounts": .integer(Int64(spraying.maxTrackedAccounts)),
            ]),
            "ranges": .object([
                "bannedKeys": .integer(Int64(ranges.bannedKeys)),
                "ipv4PrefixLength": .integer(Int64(ranges.ipv4PrefixLength)),
                "ipv6PrefixLength": .integer(Int64(ranges.ipv6PrefixLength)),
                "window": duration(ranges.window),
                "banFor": duration(ranges.banFor),
                "maxTrackedRanges": .integer(Int64(ranges.maxTrackedRanges)),
            ]),
            "unknownNames": .object([
                "distinctSources": .integer(Int64(unknownNames.distinctSources)),
                "window": duration(unknownNames.window),
                "markFor": duration(unknownNames.markFor),
                "banFor": duration(unknownNames.banFor),
                "maxTrackedNames": .integer(Int64(unknownNames.maxTrackedNames)),
            ]),
            "cleanupInterval": duration(cleanupInterval),
            "stateSync": .bool(stateSync),
        ]
        if let stateDirectory { object["stateDirectory"] = .string(stateDirectory) }
        return .object(object)
    }

    /// Decodes the file form, validating every field.
    ///
    /// - Parameter decoder: A decoder positioned at a `greylist` object.
    /// - Throws: ``GreylistError/invalidConfiguration(_:)`` listing every bad field.
    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        var issues: [ConfigurationIssue] = []
        let configuration = GreylistConfiguration(reading: value, path: "greylist") { issues.append($0) }
        guard issues.isEmpty else { throw GreylistError.invalidConfiguration(issues) }
        self = configuration
    }

    /// Encodes the file form.
    ///
    /// - Parameter encoder: The encoder.
    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }
}
