import Foundation
import NIOCore

/// A blocking loopback client on a thread of its own (never the Swift pool), every read bounded.
enum TestClient {
    /// What a client from `source` reads from `destination`:`port` before the server closes,
    /// 5 bytes arrive, or 5 s pass. IPv4 or IPv6 (`source` and `destination` of one family).
    static func firstBytes(port: Int, source: String, destination: String = "127.0.0.1") async throws -> [UInt8] {
        let local = try SocketAddress(ipAddress: source, port: 0)
        let remote = try SocketAddress(ipAddress: destination, port: port)
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                let descriptor = socket(Int32(local.protocol.rawValue), Int32(SOCK_STREAM.rawValue), 0)
                defer { close(descriptor) }
                var time = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
                let connected = local.withSockAddr { bind(descriptor, $0, socklen_t($1)) } == 0
                    && remote.withSockAddr { connect(descriptor, $0, socklen_t($1)) } == 0
                guard connected else {
                    continuation.resume(throwing: IOError(errnoCode: errno, reason: "connect from \(source) to port \(port)"))
                    return
                }
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 64)
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { break }
                    bytes += buffer[..<count]
                    if bytes.count >= 5 { break }
                }
                continuation.resume(returning: bytes)
            }.start()
        }
    }
}
