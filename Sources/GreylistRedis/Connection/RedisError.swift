/// Why a Redis operation failed, naming the address, the command or the value.
public enum RedisError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The server could not be reached.
    case connect(String, reason: String)
    /// No answer within the time allowed.
    case timeout(String)
    /// The server closed the connection.
    case closed(String)
    /// The server's bytes were not RESP, or broke a limit.
    case malformed(RESPError)
    /// The server refused a command (`-ERR …`, `-WRONGPASS …`).
    case server(command: String, message: String)
    /// A setting that cannot be used.
    case invalidSetting(String, reason: String)

    /// One line an operator can read.
    public var description: String {
        switch self {
        case .connect(let address, let reason): return "redis \(address): cannot connect: \(reason)"
        case .timeout(let what): return "redis: no answer in time (\(what))"
        case .closed(let address): return "redis \(address): the server closed the connection"
        case .malformed(let error): return "redis: \(error)"
        case .server(let command, let message): return "redis refused \(command): \(message)"
        case .invalidSetting(let value, let reason): return "redis setting \"\(value)\": \(reason)"
        }
    }
}
