/// Why an admin request could not be made or served: the socket, the reply, or the command line,
/// with a description that names the path or argument. A struct with a code, so a new kind of
/// failure breaks no client's `switch`.
public struct GreylistAdminError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable {
        private let name: String

        /// The socket could not be created, bound, reached or read.
        public static let socket = Code(name: "socket")
        /// The reply was not a response (too large, not JSON).
        public static let reply = Code(name: "reply")
        /// A command-line argument was wrong.
        public static let usage = Code(name: "usage")
    }

    /// The kind of failure.
    public var code: Code
    /// What failed, naming the path or the argument.
    public var description: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - description: What failed.
    public init(code: Code, description: String) {
        self.code = code
        self.description = description
    }
}
