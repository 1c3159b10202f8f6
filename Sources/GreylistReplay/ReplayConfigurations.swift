import Greylist

/// The configurations the replay compares.
enum ReplayConfigurations {
    /// ejabberd's mod_greylist: a failed login whose name matches the pattern bans for 4 hours.
    /// No trust, no knocking, no spraying, no ranges.
    static let modGreylist = GreylistConfiguration(
        rules: [GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", banFor: .seconds(4 * 3_600))],
        trust: .init(memory: .zero), knocking: .init(extendBans: false),
        spraying: .init(distinctSources: 0), ranges: .init(bannedKeys: 0), unknownNames: .init(distinctSources: 0)
    )

    /// The configuration the README recommends: the library's defaults plus three rules.
    static let recommended = GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(botnetPattern: "^bad_user_[0-9]{5,}$"))

    /// The recommended configuration with bot names (`unknownNames`) and shared addresses
    /// (`trust.sharedAddressAccounts`) turned off: the baseline that shows what those two add.
    static let withoutNamesAndSharedAddresses: GreylistConfiguration = {
        var configuration = recommended
        configuration.unknownNames.distinctSources = 0
        configuration.trust.sharedAddressAccounts = 0
        return configuration
    }()
}
