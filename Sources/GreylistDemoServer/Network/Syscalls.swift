import Glibc

/// Thin wrappers over the socket calls the demo needs: each retries `EINTR` and reports failure
/// as ``SystemError``.
enum Syscalls {
    /// Calls `body` again while it fails with `EINTR`.
    @inline(__always)
    static func retryingInterrupts<Result: BinaryInteger>(_ body: () -> Result) -> Result {
        while true {
            let result = body()
            if result != -1 || errno != EINTR { return result }
        }
    }

    static func socket(family: Int32, type: Int32) throws(SystemError) -> Int32 {
        let descriptor = Glibc.socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError("socket") }
        return descriptor
    }

    static func setOption(_ descriptor: Int32, level: Int32, name: Int32, value: Int32) throws(SystemError) {
        var value = value
        guard setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SystemError("setsockopt")
        }
    }

    static func bind(_ descriptor: Int32, _ address: UnsafeRawPointer, length: Int, subject: String) throws(SystemError) {
        guard Glibc.bind(descriptor, address.assumingMemoryBound(to: sockaddr.self), socklen_t(length)) == 0 else {
            throw SystemError("bind", subject)
        }
    }

    static func listen(_ descriptor: Int32, backlog: Int32) throws(SystemError) {
        guard Glibc.listen(descriptor, backlog) == 0 else { throw SystemError("listen") }
    }

    static func setNonBlocking(_ descriptor: Int32) throws(SystemError) {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) == 0 else { throw SystemError("fcntl") }
    }

    /// Accepts one connection: the new descriptor (blocking) and the peer address. Callers make
    /// the descriptor non-blocking only once the greylist let it in, so a refused connection
    /// costs `accept` and `close` and nothing else.
    static func accept(_ descriptor: Int32, into address: inout sockaddr_storage) -> Int32 {
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                retryingInterrupts {
                    Glibc.accept(descriptor, socketAddress, &length)
                }
            }
        }
    }

    static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        retryingInterrupts { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
    }

    static func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        // MSG_NOSIGNAL: a peer that reset the connection must not kill the server with SIGPIPE.
        retryingInterrupts { Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Closes a descriptor. `EINTR` from close is not retried: on Linux the descriptor is gone.
    static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    /// The local port a socket is bound to (after binding port 0).
    static func localPort(_ descriptor: Int32) throws(SystemError) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { throw SystemError("getsockname") }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }
}
