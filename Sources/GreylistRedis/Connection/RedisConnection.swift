#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One blocking connection to a Redis server: the thin I/O shell over ``RESPParser`` and
/// ``RESPEncoder``. Every call has a deadline; commands can be pipelined (written together,
/// answered in order). Not thread-safe: one owner (a thread or serial queue of its own, never
/// the Swift concurrency pool, since every call blocks).
@_spi(Internals) public final class RedisConnection {
    /// `host:port`, for messages.
    public let address: String
    private let descriptor: Int32
    private var parser: RESPParser
    private var readBuffer = [UInt8](repeating: 0, count: 65_536)
    private let timeoutMilliseconds: Int64
    private var isClosed = false

    /// Connects, then authenticates and selects the database when asked to.
    ///
    /// - Parameters:
    ///   - host: An IPv4 or IPv6 literal.
    ///   - port: The TCP port.
    ///   - username: The ACL user (`AUTH username password`); `nil` for `AUTH password` alone.
    ///   - password: `nil` for no `AUTH`.
    ///   - database: `SELECT` it when not 0.
    ///   - timeout: For connecting, and for each command.
    ///   - limits: Bounds on one reply.
    /// - Throws: ``RedisError``: `.connect`, `.timeout`, or `.server` when `AUTH` or `SELECT` is refused.
    public init(host: String, port: Int, username: String? = nil, password: String? = nil, database: Int = 0,
                timeout: Duration = .seconds(2), limits: RESPParser.Limits = .init()) throws(RedisError) {
        guard (1...65_535).contains(port) else { throw .invalidSetting(String(port), reason: "a port must be 1...65535") }
        address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        timeoutMilliseconds = max(1, timeout.wholeMilliseconds)
        parser = RESPParser(limits: limits)
        descriptor = try RedisSocket.connect(host: host, port: port, within: Int32(clamping: timeoutMilliseconds))
        do {
            if let password {
                let arguments: [RESPArgument] = username.map { ["AUTH", RESPArgument($0), RESPArgument(password)] } ?? ["AUTH", RESPArgument(password)]
                try expectOK(call(arguments), command: "AUTH")
            }
            if database != 0 {
                try expectOK(call(["SELECT", RESPArgument(Int64(database))]), command: "SELECT \(database)")
            }
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Sends one command and returns its reply; a `-ERR` reply is returned as ``RESPValue/error(_:)``.
    ///
    /// - Parameter arguments: The command and its arguments.
    /// - Throws: ``RedisError`` when the connection fails or times out.
    @discardableResult
    public func call(_ arguments: [RESPArgument]) throws(RedisError) -> RESPValue {
        try pipeline([arguments])[0]
    }

    /// Sends commands in one write and returns their replies, in order.
    ///
    /// - Parameter commands: The commands.
    /// - Returns: One reply per command.
    /// - Throws: ``RedisError`` when the connection fails or a reply does not come in time.
    public func pipeline(_ commands: [[RESPArgument]]) throws(RedisError) -> [RESPValue] {
        guard !isClosed else { throw .closed(address) }
        let deadline = RedisSocket.now() + timeoutMilliseconds
        try RedisSocket.writeAll(descriptor, commands.flatMap(RESPEncoder.command), deadline: deadline, address: address)
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        while replies.count < commands.count {
            replies.append(try receive(deadline: deadline))
        }
        return replies
    }

    /// Sends a command without reading a reply (after `SUBSCRIBE`, the server pushes messages).
    ///
    /// - Parameter arguments: The command.
    public func send(_ arguments: [RESPArgument]) throws(RedisError) {
        guard !isClosed else { throw .closed(address) }
        try RedisSocket.writeAll(descriptor, RESPEncoder.command(arguments), deadline: RedisSocket.now() + timeoutMilliseconds, address: address)
    }

    /// The next value the server sends (a reply, or a pushed pub/sub message), waiting at most
    /// `timeout` (the connection's command timeout by default).
    ///
    /// - Parameter timeout: How long to wait.
    /// - Throws: ``RedisError/timeout(_:)`` when nothing whole arrives in time.
    public func receive(timeout: Duration? = nil) throws(RedisError) -> RESPValue {
        let milliseconds = timeout?.wholeMilliseconds ?? timeoutMilliseconds
        return try receive(deadline: RedisSocket.now() + milliseconds)
    }

    private func receive(deadline: Int64) throws(RedisError) -> RESPValue {
        while true {
            do {
                if let value = try parser.next() { return value }
            } catch {
                close()
                throw .malformed(error)
            }
            let count = try RedisSocket.read(descriptor, into: &readBuffer, deadline: deadline, address: address)
            parser.append(readBuffer[..<count])
        }
    }

    /// The socket, for a link that waits on it together with other things (`poll`).
    package var fileDescriptor: Int32 {
        descriptor
    }

    /// The next value already received, without reading; `nil` when none is whole yet.
    ///
    /// - Throws: ``RedisError/malformed(_:)`` (the connection is closed).
    package func bufferedValue() throws(RedisError) -> RESPValue? {
        guard !isClosed else { throw .closed(address) }
        do {
            return try parser.next()
        } catch {
            close()
            throw .malformed(error)
        }
    }

    /// Reads what has arrived (call it after `poll` said the socket is readable), waiting at most
    /// the command timeout for at least one byte.
    ///
    /// - Throws: ``RedisError/closed(_:)`` when the server closed the connection.
    package func readAvailable() throws(RedisError) {
        guard !isClosed else { throw .closed(address) }
        let count = try RedisSocket.read(descriptor, into: &readBuffer, deadline: RedisSocket.now() + timeoutMilliseconds, address: address)
        parser.append(readBuffer[..<count])
    }

    /// Closes the connection; later calls throw ``RedisError/closed(_:)``.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        #if canImport(Glibc)
        Glibc.close(descriptor)
        #else
        Darwin.close(descriptor)
        #endif
    }

    private func expectOK(_ reply: RESPValue, command: String) throws(RedisError) {
        if case .error(let message) = reply { throw .server(command: command, message: message) }
    }
}
