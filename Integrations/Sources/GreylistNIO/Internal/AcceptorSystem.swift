import CGreylistNIOSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The acceptor's socket calls, one thin wrapper each: the only file of this module that calls
/// the C library for them. Each retries `EINTR` where a retry is right.
enum AcceptorSystem {
    /// The calling thread's last error number.
    static var errorNumber: Int32 { errno }

    /// The system's text for an error number.
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// A listening TCP socket, close-on-exec, bound to `address`.
    ///
    /// - Returns: The descriptor, or the failed call's name and error number.
    static func listen(on address: UnsafeRawPointer, length: Int, family: Int32, backlog: Int32) -> Result<Int32, Failure> {
        let descriptor = Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return .failure(Failure(call: "socket", code: errno)) }
        var one: Int32 = 1
        guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            return .failure(closing(descriptor, Failure(call: "setsockopt", code: errno)))
        }
        guard Glibc.bind(descriptor, address.assumingMemoryBound(to: sockaddr.self), socklen_t(length)) == 0 else {
            return .failure(closing(descriptor, Failure(call: "bind", code: errno)))
        }
        guard Glibc.listen(descriptor, backlog) == 0 else {
            return .failure(closing(descriptor, Failure(call: "listen", code: errno)))
        }
        return .success(descriptor)
    }

    /// A failed call and its error number.
    struct Failure: Error {
        var call: String
        var code: Int32
    }

    private static func closing(_ descriptor: Int32, _ failure: Failure) -> Failure {
        _ = Glibc.close(descriptor)
        return failure
    }

    /// The port a socket is bound to.
    static func boundPort(_ descriptor: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }

    /// Accepts one connection, close-on-exec and blocking (NIO makes it non-blocking once it
    /// takes it): a refused connection costs `accept` and `close` and nothing else.
    static func accept(_ descriptor: Int32, into address: inout sockaddr_storage) -> Int32 {
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                while true {
                    let result = greylist_nio_accept4(descriptor, socketAddress, &length, Int32(SOCK_CLOEXEC.rawValue))
                    if result != -1 || errno != EINTR { return result }
                }
            }
        }
    }

    /// Closes a descriptor. `EINTR` from close is not retried: on Linux the descriptor is gone.
    static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    /// Ends both directions of a listening socket: a thread blocked in `accept` on it wakes.
    static func shutdown(_ descriptor: Int32) {
        _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR))
    }

    /// Sleeps the calling thread (the acceptor's own, never a pool thread).
    static func pause(milliseconds: Int) {
        var time = timespec(tv_sec: milliseconds / 1_000, tv_nsec: (milliseconds % 1_000) * 1_000_000)
        var left = timespec()
        while nanosleep(&time, &left) == -1 && errno == EINTR { time = left }
    }

    /// Blocks every signal a process may be sent on the calling thread, so that signals go to
    /// the threads that wait for them (`sigwait` on the main thread, say), never to the acceptor.
    static func blockSignals() {
        var signals = sigset_t()
        sigfillset(&signals)
        for synchronous in [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP] { sigdelset(&signals, synchronous) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }
}
