/// Why a ``GreylistAcceptor`` could not listen, naming the address and the failed call.
public struct GreylistAcceptorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The address asked for, as `host:port`.
    public var address: String
    /// What failed: the system call (`bind`, `listen`, …) or the address resolution.
    public var operation: String
    /// The system's error number, when a system call failed.
    public var errorNumber: Int32?
    /// Why, in words.
    public var reason: String

    /// Creates the error.
    ///
    /// - Parameters:
    ///   - address: The address asked for, as `host:port`.
    ///   - operation: What failed.
    ///   - errorNumber: The system's error number, when a system call failed.
    ///   - reason: Why, in words.
    public init(address: String, operation: String, errorNumber: Int32? = nil, reason: String) {
        self.address = address
        self.operation = operation
        self.errorNumber = errorNumber
        self.reason = reason
    }

    /// `cannot listen on 127.0.0.1:5222: bind: Address already in use (errno 98)`.
    public var description: String {
        let number = errorNumber.map { " (errno \($0))" } ?? ""
        return "cannot listen on \(address): \(operation): \(reason)\(number)"
    }
}
