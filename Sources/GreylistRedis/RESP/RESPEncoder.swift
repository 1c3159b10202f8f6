/// Encodes commands as Redis expects them: an array of bulk strings.
@_spi(Internals) public enum RESPEncoder {
    /// The bytes of one command, for example `["SET", "key", "value", "PXAT", "1700000000000"]`.
    ///
    /// - Parameter arguments: The command name and its arguments, as text or bytes.
    /// - Returns: `*<n>\r\n` followed by `$<length>\r\n<bytes>\r\n` per argument.
    public static func command(_ arguments: [RESPArgument]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + arguments.reduce(0) { $0 + $1.bytes.count + 16 })
        bytes += Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            bytes += Array("$\(argument.bytes.count)\r\n".utf8)
            bytes += argument.bytes
            bytes += [0x0D, 0x0A]
        }
        return bytes
    }
}

/// One argument of a command: text (sent as UTF-8) or raw bytes.
@_spi(Internals) public struct RESPArgument: Hashable, Sendable, ExpressibleByStringLiteral {
    /// The bytes sent.
    public var bytes: [UInt8]

    /// A text argument.
    ///
    /// - Parameter text: Sent as its UTF-8 bytes.
    public init(_ text: String) {
        bytes = Array(text.utf8)
    }

    /// A binary argument.
    ///
    /// - Parameter bytes: Sent as they are.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A number, in decimal.
    ///
    /// - Parameter value: The number.
    public init(_ value: Int64) {
        bytes = Array(String(value).utf8)
    }

    /// A text argument from a literal.
    public init(stringLiteral value: String) {
        self.init(value)
    }
}
