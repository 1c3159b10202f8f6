import Foundation
import Glibc

/// A real HAProxy (Debian's `haproxy`) in TCP mode in front of a server, for one test: it
/// listens on a free loopback port and forwards every connection to `backendPort` from
/// `sourceAddress`, beginning each with a PROXY header (`send-proxy-v2` or `send-proxy`).
/// Stopped by ``stop()`` or when the fixture goes away.
///
/// `@unchecked Sendable`: every property is set once in `init`; `Process` is only asked whether
/// it runs, signalled and waited for.
package final class HAProxyFixture: @unchecked Sendable {
    package static let executable = ["/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"]
        .first(where: FileManager.default.isExecutableFile(atPath:))
    /// Whether HAProxy is installed here (`.ci/run` installs Debian's `haproxy`).
    package static var isAvailable: Bool { executable != nil }

    /// The port clients connect to.
    package let port: Int
    private let process = Process()
    private let directory: URL

    /// Starts HAProxy and waits (at most 10 s) until its frontend accepts connections.
    ///
    /// - Parameters:
    ///   - backendPort: The server's port on 127.0.0.1.
    ///   - sourceAddress: The loopback address HAProxy connects from (the trusted proxy).
    ///   - proxyKeyword: `send-proxy-v2` or `send-proxy`.
    package init(backendPort: Int, sourceAddress: String, proxyKeyword: String) async throws {
        port = try RedisServerFixture.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("greylist-haproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = """
            global
                maxconn 256
            defaults
                mode tcp
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend clients
                bind 127.0.0.1:\(port)
                default_backend server
            backend server
                server demo 127.0.0.1:\(backendPort) \(proxyKeyword) source \(sourceAddress)
            """
        let path = directory.appendingPathComponent("haproxy.cfg")
        // HAProxy refuses a file whose last line has no line feed.
        try (configuration + "\n").write(to: path, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: Self.executable ?? "/usr/sbin/haproxy")
        process.arguments = ["-db", "-f", path.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let (port, process) = (port, process)
        let ready = await RedisServerFixture.blocking { () -> Bool in
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline && process.isRunning {
                if Self.accepts(port: port) { return true }
                usleep(20_000)
            }
            return false
        }
        guard ready, process.isRunning else {
            stop()
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops HAProxy (it keeps nothing).
    package func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    private static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
