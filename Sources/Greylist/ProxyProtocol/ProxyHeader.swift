/// What a load balancer's PROXY protocol header (HAProxy's, version 1 or 2) says about the
/// connection it forwards.
public struct ProxyHeader: Hashable, Sendable {
    /// What the header asks of the receiver.
    public enum Command: Hashable, Sendable {
        /// A forwarded connection: the client's address and port, and the address it reached.
        case proxy(source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16)
        /// The proxy's own connection (a health check), or one whose client the proxy does not
        /// know (`UNKNOWN`, a Unix socket): the receiver uses the connection's own addresses.
        case local
    }

    /// 1 (the text form) or 2 (the binary form).
    public var version: Int
    /// The command.
    public var command: Command

    /// Creates a header.
    ///
    /// - Parameters:
    ///   - version: 1 or 2.
    ///   - command: The command.
    public init(version: Int, command: Command) {
        self.version = version
        self.command = command
    }

    /// The forwarded client's address; `nil` for a local connection.
    public var clientAddress: IPAddress? {
        if case .proxy(let source, _, _, _) = command { return source }
        return nil
    }
}
