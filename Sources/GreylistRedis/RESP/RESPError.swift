/// Bytes that are not RESP, or that break the parser's limits; the connection that sent them
/// cannot be trusted to stay in step and is closed.
@_spi(Internals) public struct RESPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, naming the offending value.
    public var reason: String

    /// Creates an error.
    ///
    /// - Parameter reason: What was wrong.
    public init(_ reason: String) {
        self.reason = reason
    }

    /// `malformed RESP reply: …`.
    public var description: String {
        "malformed RESP reply: \(reason)"
    }
}
