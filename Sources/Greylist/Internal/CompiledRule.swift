/// A rule with its pattern compiled once, at configuration time, into a linear-time matcher.
struct CompiledRule: Sendable {
    let rule: GreylistRule
    let pattern: LinearPattern?

    /// Validates the configuration and compiles every rule's pattern.
    static func compile(_ configuration: GreylistConfiguration) throws(GreylistError) -> [CompiledRule] {
        try configuration.validate()
        var compiled: [CompiledRule] = []
        for rule in configuration.rules {
            do throws(PatternError) {
                compiled.append(CompiledRule(rule: rule, pattern: try rule.pattern.map { (text) throws(PatternError) in try LinearPattern(text) }))
            } catch {
                throw .invalidPattern(rule: rule.name, pattern: rule.pattern ?? "", reason: error.description)
            }
        }
        return compiled
    }

    /// Whether a failure by `user` counts for this rule: the pattern is found in the name.
    func matches(_ user: String) -> Bool {
        guard let pattern else { return true }
        return pattern.matches(user)
    }
}
