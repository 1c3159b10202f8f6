import Foundation
import Glibc
import Greylist
@_spi(Internals) import GreylistRedis

/// A real `redis-server` for one test: started on a free loopback port without persistence,
/// stopped by ``stop()``.
///
/// `@unchecked Sendable`: every property is set once in `init`; `Process` is only asked whether
/// it runs, signalled and waited for.
package final class RedisServerFixture: @unchecked Sendable {
    package static let executable = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first(where: FileManager.default.isExecutableFile(atPath:))
    /// Whether Redis is installed here (`.ci/run` installs Debian's `redis-server`).
    package static var isAvailable: Bool { executable != nil }

    package let port: Int
    private let process = Process()
    private let ended = DispatchSemaphore(value: 0)

    /// Starts the server and waits (at most 10 s) until it answers `PING`.
    ///
    /// - Parameters:
    ///   - arguments: More configuration, for example `["--requirepass", "secret"]`.
    ///   - reusedPort: The port (a restarted server takes its predecessor's); a free one by default.
    package init(_ arguments: [String] = [], port reusedPort: Int? = nil) async throws {
        port = try reusedPort ?? Self.freePort()
        process.executableURL = URL(fileURLWithPath: Self.executable ?? "/usr/bin/redis-server")
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no", "--logfile", "", "--protected-mode", "no"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let ended = ended
        process.terminationHandler = { _ in ended.signal() }
        try process.run()
        let port = port
        let ready = await Self.blocking {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if let connection = try? RedisConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(200)) {
                    let reply = try? connection.call(["PING"])
                    // A server with a password answers NOAUTH: it is up all the same.
                    if reply == .simpleString("PONG") || reply?.text == nil { return true }
                }
                usleep(20_000)
            }
            return false
        }
        // A server that could not bind has exited: what answered was something else.
        guard ready, process.isRunning else {
            await stop()
            throw RedisError.timeout("redis-server on port \(port) did not start within 10 s")
        }
    }

    deinit {
        // A test that ends early (a failed `#require`) still stops its server: killing a child
        // and reaping it takes well under a millisecond.
        stopBlocking()
    }

    /// A connection to this server, on the caller's thread (call it off the concurrency pool).
    package func connect(password: String? = nil, username: String? = nil, database: Int = 0) throws -> RedisConnection {
        // A generous deadline: on a loaded 2-core machine the server can be off the CPU for seconds.
        try RedisConnection(host: "127.0.0.1", port: port, username: username, password: password, database: database, timeout: .seconds(20))
    }

    /// Stops the server (it keeps nothing on disk).
    package func stop() async {
        await Self.blocking { self.stopBlocking() }
    }

    /// ``stop()`` on the caller's thread (call it off the concurrency pool).
    package func stopBlocking() {
        guard process.isRunning else { return }
        // SIGKILL: the server keeps nothing on disk, and a child of this test process inherits a
        // signal mask in which SIGTERM may be blocked.
        kill(process.processIdentifier, SIGKILL)
        _ = ended.wait(timeout: .now() + 10)
        process.waitUntilExit()
    }

    /// Ports handed out in this process: never handed out again, so a test that kills its server
    /// and starts another on the same port never finds another test's server there.
    private static let handedOut = LockedValue<Set<Int>>([])

    /// A port nothing listens on now and no other fixture of this process was given: bound to
    /// port 0, read back, released.
    package static func freePort() throws -> Int {
        for _ in 0..<100 {
            let port = try boundPort()
            if handedOut.withLock({ $0.insert(port).inserted }) { return port }
        }
        throw POSIXError(.EADDRINUSE)
    }

    private static func boundPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs blocking work on a queue of its own, never on the concurrency pool.
    package static func blocking<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "greylist.tests.redis").async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// ``blocking(_:)`` for work that cannot fail.
    package static func blocking<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: "greylist.tests.redis").async { continuation.resume(returning: body()) }
        }
    }
}

extension ClusterKey {
    /// The key every test cluster node shares.
    package static let forTests: ClusterKey = {
        do { return try ClusterKey(Array("greylist-test-cluster-key-0123456789".utf8)) } catch { fatalError("\(error)") }
    }()
}
