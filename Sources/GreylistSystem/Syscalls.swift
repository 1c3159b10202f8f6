import CGreylistSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The socket and file calls of the demo server and the admin library, one thin wrapper each: the
/// only file that imports the C library for them (as swift-nio's `System.swift`). Each retries `EINTR` where a retry is right
/// and reports failure as ``SystemError``.
package enum Syscalls {
    /// Calls `body` again while it fails with `EINTR`.
    @inline(__always)
    package static func retryingInterrupts<Result: BinaryInteger>(_ body: () -> Result) -> Result {
        while true {
            let result = body()
            if result != -1 || errno != EINTR { return result }
        }
    }

    /// The calling thread's last error number.
    package static var errorNumber: Int32 { errno }

    /// `SOCK_STREAM`, named here so callers need no platform module of their own.
    package static let streamSocket = Int32(SOCK_STREAM.rawValue)
    /// `AF_UNIX`, for the admin socket.
    package static let unixFamily = AF_UNIX

    package static func socket(family: Int32, type: Int32) throws(SystemError) -> Int32 {
        let descriptor = Glibc.socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError("socket") }
        return descriptor
    }

    package static func setOption(_ descriptor: Int32, level: Int32, name: Int32, value: Int32) throws(SystemError) {
        var value = value
        guard setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SystemError("setsockopt")
        }
    }

    /// Turns Nagle's algorithm off: the shell writes each batch of output in one write, and a
    /// small write must not wait for the client's delayed ACK (about 40 ms per login otherwise).
    package static func setNoDelay(_ descriptor: Int32) throws(SystemError) {
        try setOption(descriptor, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
    }

    /// Read and write timeouts for a blocking socket.
    package static func setTimeouts(_ descriptor: Int32, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    package static func bind(_ descriptor: Int32, _ address: UnsafeRawPointer, length: Int, subject: String) throws(SystemError) {
        guard Glibc.bind(descriptor, address.assumingMemoryBound(to: sockaddr.self), socklen_t(length)) == 0 else {
            throw SystemError("bind", subject)
        }
    }

    package static func connect(_ descriptor: Int32, _ address: UnsafeRawPointer, length: Int, subject: String) throws(SystemError) {
        let result = retryingInterrupts { Glibc.connect(descriptor, address.assumingMemoryBound(to: sockaddr.self), socklen_t(length)) }
        guard result == 0 else { throw SystemError("connect", subject) }
    }

    package static func listen(_ descriptor: Int32, backlog: Int32) throws(SystemError) {
        guard Glibc.listen(descriptor, backlog) == 0 else { throw SystemError("listen") }
    }

    package static func setBlocking(_ descriptor: Int32, _ blocking: Bool) throws(SystemError) {
        let flags = fcntl(descriptor, F_GETFL)
        let wanted = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK
        guard flags >= 0, fcntl(descriptor, F_SETFL, wanted) == 0 else { throw SystemError("fcntl") }
    }

    package static func setNonBlocking(_ descriptor: Int32) throws(SystemError) {
        try setBlocking(descriptor, false)
    }

    /// Accepts one connection, close-on-exec: the new descriptor (blocking) and the peer address.
    /// Callers make the descriptor non-blocking only once the greylist let it in, so a refused
    /// connection costs `accept` and `close` and nothing else.
    package static func accept(_ descriptor: Int32, into address: inout sockaddr_storage) -> Int32 {
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                retryingInterrupts {
                    greylist_accept4(descriptor, socketAddress, &length, Int32(SOCK_CLOEXEC.rawValue))
                }
            }
        }
    }

    package static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        retryingInterrupts { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
    }

    package static func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        // MSG_NOSIGNAL: a peer that reset the connection must not kill the server with SIGPIPE.
        retryingInterrupts { Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Writes to a descriptor that is not a socket (standard error).
    package static func writeFile(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        retryingInterrupts { Glibc.write(descriptor, bytes.baseAddress, bytes.count) }
    }

    /// Closes a descriptor. `EINTR` from close is not retried: on Linux the descriptor is gone.
    package static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    /// The user id of the process at the other end of a Unix socket (`SO_PEERCRED`), or `nil`.
    package static func peerUser(_ descriptor: Int32) -> UInt32? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 32-bit fields on Linux.
        var credentials: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
              Int(length) == MemoryLayout.size(ofValue: credentials) else { return nil }
        return credentials.1
    }

    /// The effective user id of this process.
    package static var effectiveUser: UInt32 { UInt32(geteuid()) }

    /// Ends both directions of a socket; a thread blocked in `accept` on it wakes with an error.
    package static func shutdown(_ descriptor: Int32) {
        _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR))
    }

    package static func unlink(_ path: String) {
        _ = Glibc.unlink(path)
    }

    package static func setMode(_ path: String, _ mode: mode_t) {
        _ = chmod(path, mode)
    }

    /// Raises the soft limit on open descriptors to the hard limit; returns the soft limit in force.
    package static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// Whether a descriptor is close-on-exec.
    package static func isCloseOnExec(_ descriptor: Int32) -> Bool {
        fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0
    }

    /// Sleeps the calling thread; only dedicated threads (the accept loop's) call it.
    package static func pause(milliseconds: Int) {
        usleep(useconds_t(milliseconds * 1_000))
    }

    /// The local port a socket is bound to (after binding port 0).
    package static func localPort(_ descriptor: Int32) throws(SystemError) -> Int {
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
