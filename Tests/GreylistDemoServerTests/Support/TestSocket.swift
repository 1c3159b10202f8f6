import GreylistTestSupport
import Foundation
import Glibc

/// A blocking loopback TCP client for integration tests: every read is bounded by a timeout, so
/// a test waits on the server's answer, never on a clock of its own.
final class TestSocket: Sendable {
    let descriptor: Int32

    /// Connects to `destination`:`port` from `source` (any 127.0.0.0/8 address, or `::1`).
    init(port: Int, source: String = "127.0.0.1", destination: String = "127.0.0.1", timeout: Int = 5) throws {
        let isIPv6 = destination.contains(":")
        // A local until connected: `descriptor` is set only on success, so a failed connect
        // closes the socket once (here), never again in `deinit` (a second close could close a
        // descriptor another thread has opened since, under the same number).
        let descriptor = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        let bound: Int32
        let connected: Int32
        if isIPv6 {
            var local = sockaddr_in6()
            local.sin6_family = sa_family_t(AF_INET6)
            inet_pton(AF_INET6, source, &local.sin6_addr)
            var remote = sockaddr_in6()
            remote.sin6_family = sa_family_t(AF_INET6)
            remote.sin6_port = UInt16(port).bigEndian
            inet_pton(AF_INET6, destination, &remote.sin6_addr)
            bound = Self.call(bind, descriptor, &local)
            connected = Self.call(connect, descriptor, &remote)
        } else {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = UInt16(port).bigEndian
            inet_pton(AF_INET, destination, &remote.sin_addr)
            bound = Self.call(bind, descriptor, &local)
            connected = Self.call(connect, descriptor, &remote)
        }
        guard bound == 0, connected == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        self.descriptor = descriptor
    }

    private static func call<Address>(_ function: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32, _ descriptor: Int32, _ address: inout Address) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { function(descriptor, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }

    /// Raises this process's soft descriptor limit as far as the hard limit allows (at most `wanted`).
    static func raiseDescriptorLimit(to wanted: rlim_t) {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = min(max(limit.rlim_cur, wanted), limit.rlim_max)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    deinit { Glibc.close(descriptor) }

    func send(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until `marker` appears, the server closes, or the read times out.
    @discardableResult
    func read(until marker: String) async -> String {
        await Blocking.run { self.readBlocking(until: marker) }
    }

    /// Reads until the server closes (or the timeout): what it sent and whether it closed.
    func readToEnd() async -> (text: String, closed: Bool) {
        await Blocking.run { self.readToEndBlocking() }
    }

    /// Reads once: what a single `recv` returns (bounded by the socket's receive timeout).
    func readOnce() async -> String {
        await Blocking.run {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = chunk.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            return String(decoding: chunk[..<max(count, 0)], as: UTF8.self)
        }
    }

    /// Waits up to `milliseconds` for the server to send or close; true when it did.
    func serverActs(within milliseconds: Int32) async -> Bool {
        await Blocking.run { self.serverActsBlocking(within: milliseconds) }
    }

    private func readBlocking(until marker: String) -> String {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while !String(decoding: received, as: UTF8.self).contains(marker) {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += chunk[..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    func readToEndBlocking() -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += chunk[..<count]
            } else {
                return (String(decoding: received, as: UTF8.self), count == 0 || errno == ECONNRESET)
            }
        }
    }

    private func serverActsBlocking(within milliseconds: Int32) -> Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, milliseconds) > 0
    }

    /// Closes with a TCP reset instead of a FIN.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(descriptor, Int32(SHUT_RDWR))
    }
}
