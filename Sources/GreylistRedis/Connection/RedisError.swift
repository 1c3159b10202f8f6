/// Why a Redis operation failed, naming the address, the command or the value. A struct with a
/// code, so a new kind of failure breaks no client's `switch`.
public struct RedisError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public let description: String

        /// The server could not be reached.
        public static let connect = Code(description: "connect")
        /// No answer within the time allowed.
        public static let timeout = Code(description: "timeout")
        /// The server closed the connection.
        public static let closed = Code(description: "closed")
        /// The server's bytes were not RESP, or broke a limit.
        public static let malformed = Code(description: "malformed")
        /// The server refused a command (`-ERR …`, `-WRONGPASS …`).
        public static let server = Code(description: "server")
        /// A setting that cannot be used.
        public static let invalidSetting = Code(description: "invalidSetting")
    }

    /// The kind of failure.
    public var code: Code
    /// What it is about: the address, the command, or the setting's value.
    public var subject: String
    /// Why: the system's or the server's words, or the rule the value breaks.
    public var reason: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - subject: The address, command or value.
    ///   - reason: Why.
    public init(code: Code, subject: String, reason: String) {
        self.code = code
        self.subject = subject
        self.reason = reason
    }

    /// The server at `address` could not be reached.
    public static func connect(_ address: String, reason: String) -> RedisError {
        RedisError(code: .connect, subject: address, reason: reason)
    }

    /// No answer in time for `what`.
    public static func timeout(_ what: String) -> RedisError {
        RedisError(code: .timeout, subject: what, reason: "no answer in time")
    }

    /// The server at `address` closed the connection.
    public static func closed(_ address: String) -> RedisError {
        RedisError(code: .closed, subject: address, reason: "the server closed the connection")
    }

    /// The server's bytes were not RESP, or broke a limit.
    static func malformed(_ error: RESPError) -> RedisError {
        RedisError(code: .malformed, subject: "", reason: error.description)
    }

    /// The server refused `command`.
    public static func server(command: String, message: String) -> RedisError {
        RedisError(code: .server, subject: command, reason: message)
    }

    /// The setting `value` cannot be used.
    public static func invalidSetting(_ value: String, reason: String) -> RedisError {
        RedisError(code: .invalidSetting, subject: value, reason: reason)
    }

    /// One line an operator can read.
    public var description: String {
        switch code {
        case .connect: return "redis \(subject): cannot connect: \(reason)"
        case .timeout: return "redis: no answer in time (\(subject))"
        case .closed: return "redis \(subject): the server closed the connection"
        case .malformed: return "redis: \(reason)"
        case .server: return "redis refused \(subject): \(reason)"
        case .invalidSetting: return "redis setting \"\(subject)\": \(reason)"
        default: return "redis \(subject): \(reason)"
        }
    }
}
