/// Short names for the library's vocabulary, as members of the actor.
///
/// The module and its actor are both called `Greylist`, so in a client module `Greylist.X` names a
/// member of the actor, never a type of the module. These aliases make `Greylist.Configuration`,
/// `Greylist.Rule` and `Greylist.Event` work in a module that declares its own `Configuration`,
/// `Rule` or `Event`. Every other public type is prefixed (`GreylistError`, `GreylistStore`) or
/// generic vocabulary (`IPAddress`, `IPNetwork`); with Swift 6.3 a module selector names any of
/// them without ambiguity: `Greylist::IPAddress`.
extension Greylist {
    /// ``GreylistConfiguration``: rules, allowlist, limits.
    public typealias Configuration = GreylistConfiguration
    /// ``GreylistRule``: one pattern, threshold and ban length.
    public typealias Rule = GreylistRule
    /// ``GreylistEvent``: what the greylist reports to its host.
    public typealias Event = GreylistEvent
    /// ``GreylistStatistics``: counters and table sizes.
    public typealias Statistics = GreylistStatistics
    /// ``GreylistSnapshot``: the persistent state.
    public typealias Snapshot = GreylistSnapshot
    /// ``GreylistChange``: one stored change.
    public typealias Change = GreylistChange
    /// ``GreylistStore``: where bans survive restarts.
    public typealias Store = GreylistStore
}
