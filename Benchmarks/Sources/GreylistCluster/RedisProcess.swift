import Foundation
@_spi(Internals) import GreylistRedis

/// A `redis-server` of the benchmark's own: a free loopback port, no persistence, killed at the end.
final class RedisProcess {
    let port: Int
    private let process = Process()

    init() throws {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) == 0 && getsockname(probe, $0, &length) == 0 }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        close(probe)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--logfile", "", "--protected-mode", "no"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var lastError = ""
        for _ in 0..<500 {
            do {
                let reply = try RedisConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(200)).call(["PING"])
                if reply == .simpleString("PONG") { return }
                lastError = reply.description
            } catch {
                lastError = error.description
            }
            usleep(10_000)
        }
        FileHandle.standardError.write(Data((lastError + "\n").utf8))
        throw RedisError.timeout("redis-server on port \(port) did not start within 5 s")
    }

    func connect() throws -> RedisConnection {
        try RedisConnection(host: "127.0.0.1", port: port, timeout: .seconds(30))
    }

    var processIdentifier: Int32 { process.processIdentifier }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
