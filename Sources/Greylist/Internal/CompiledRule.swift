/// A rule with its pattern compiled once, at configuration time.
struct CompiledRule {
    let rule: GreylistRule
    let regex: Regex<AnyRegexOutput>?

    /// Validates the configuration and compiles every rule's pattern.
    static func compile(_ configuration: GreylistConfiguration) throws(GreylistError) -> [CompiledRule] {
        try configuration.validate()
        var compiled: [CompiledRule] = []
        for rule in configuration.rules {
            do {
                compiled.append(CompiledRule(rule: rule, regex: try rule.pattern.map { try Regex($0) }))
            } catch {
                throw .invalidPattern(rule: rule.name, pattern: rule.pattern ?? "", reason: "\(error)")
            }
        }
        return compiled
    }

    /// Whether a failure by `user` counts for this rule: the pattern is found in the name.
    func matches(_ user: String) -> Bool {
        guard let regex else { return true }
        return user.contains(regex)
    }
}
