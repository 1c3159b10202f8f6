/// Why a connection's PROXY protocol header was refused; each case names what was wrong.
public enum ProxyProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes are not a PROXY header: what was expected and what came, escaped.
    case malformed(String)
    /// The header is longer than the limit (its announced or read length).
    case tooLong(Int, limit: Int)
    /// A connection from outside the trusted proxies began with a PROXY header.
    case untrustedPeer(IPAddress)
    /// No whole header arrived in time.
    case timedOut(Duration)

    /// One line an operator can read.
    public var description: String {
        switch self {
        case .malformed(let reason): return "malformed PROXY header: \(reason)"
        case .tooLong(let length, let limit): return "PROXY header of \(length) bytes, over the limit of \(limit)"
        case .untrustedPeer(let address): return "PROXY header from \(address), which is not a trusted proxy"
        case .timedOut(let duration): return "no whole PROXY header within \(duration)"
        }
    }
}
