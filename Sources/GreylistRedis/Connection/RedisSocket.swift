#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket calls the Redis connection makes, one thin wrapper each: connect with a deadline,
/// write everything before a deadline, read what is there before a deadline. `EINTR` is retried.
enum RedisSocket {
    /// A connected, non-blocking TCP socket to `host` (an IPv4 or IPv6 literal) and `port`.
    static func connect(host: String, port: Int, within milliseconds: Int32) throws(RedisError) -> Int32 {
        let address = "\(host):\(port)"
        var storage = sockaddr_storage()
        let length: socklen_t
        let family: Int32
        if host.contains(":") {
            var ipv6 = sockaddr_in6()
            ipv6.sin6_family = sa_family_t(AF_INET6)
            ipv6.sin6_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET6, host, &ipv6.sin6_addr) == 1 else { throw .invalidSetting(host, reason: "not an IP address") }
            // Written through a typed view of the storage: a pointer must not outlive its closure.
            withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee = ipv6 } }
            (length, family) = (socklen_t(MemoryLayout<sockaddr_in6>.size), AF_INET6)
        } else {
            var ipv4 = sockaddr_in()
            ipv4.sin_family = sa_family_t(AF_INET)
            ipv4.sin_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET, host, &ipv4.sin_addr) == 1 else { throw .invalidSetting(host, reason: "not an IP address") }
            withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee = ipv4 } }
            (length, family) = (socklen_t(MemoryLayout<sockaddr_in>.size), AF_INET)
        }
        #if canImport(Glibc)
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        #else
        let descriptor = socket(family, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw .connect(address, reason: errorText(errno)) }
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, length) }
        }
        if result != 0 && errno != EINPROGRESS {
            let code = errno
            close(descriptor)
            throw .connect(address, reason: errorText(code))
        }
        if result != 0 {
            guard wait(descriptor, for: Int16(POLLOUT), within: milliseconds) else {
                close(descriptor)
                throw .timeout("connecting to \(address)")
            }
            var code: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &size)
            guard code == 0 else {
                close(descriptor)
                throw .connect(address, reason: errorText(code))
            }
        }
        return descriptor
    }

    /// Writes all of `bytes` before `deadline` (monotonic milliseconds).
    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], deadline: Int64, address: String) throws(RedisError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                guard wait(descriptor, for: Int16(POLLOUT), within: remaining(deadline)) else { throw .timeout("writing to \(address)") }
            } else {
                throw .closed(address)
            }
        }
    }

    /// Reads what is there (at least one byte) before `deadline`.
    static func read(_ descriptor: Int32, into buffer: inout [UInt8], deadline: Int64, address: String) throws(RedisError) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 { return count }
            if count == 0 { throw .closed(address) }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { throw .closed(address) }
            guard wait(descriptor, for: Int16(POLLIN), within: remaining(deadline)) else { throw .timeout("reading from \(address)") }
        }
    }

    /// Monotonic milliseconds now.
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000 + Int64(time.tv_nsec) / 1_000_000
    }

    private static func remaining(_ deadline: Int64) -> Int32 {
        Int32(clamping: max(deadline - now(), 0))
    }

    private static func wait(_ descriptor: Int32, for events: Int16, within milliseconds: Int32) -> Bool {
        var poller = pollfd(fd: descriptor, events: events, revents: 0)
        while true {
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }

    private static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
