import Foundation
import NIOCore

/// A blocking loopback client whose every call runs on a thread of its own (never the Swift
/// pool), each read bounded by the socket's 5 s receive timeout.
final class LineClient: Sendable {
    let descriptor: Int32

    init(port: Int, source: String) throws {
        let local = try SocketAddress(ipAddress: source, port: 0)
        let remote = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var time = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        guard local.withSockAddr({ bind(descriptor, $0, socklen_t($1)) }) == 0,
              remote.withSockAddr({ connect(descriptor, $0, socklen_t($1)) }) == 0 else {
            let code = errno
            close(descriptor)
            throw IOError(errnoCode: code, reason: "connect from \(source) to port \(port)")
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Foundation.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until `marker` appears (`nil`: until the server closes) or a read times out:
    /// what arrived and whether the server closed or reset the connection.
    @discardableResult
    func read(until marker: String?) async -> (text: String, closed: Bool) {
        await withCheckedContinuation { continuation in
            Thread { [self] in
                var text = ""
                var closed = false
                var chunk = [UInt8](repeating: 0, count: 4_096)
                while marker.map({ !text.contains($0) }) ?? true {
                    let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                    // An orderly close, or a reset (closed with our bytes unread); not a timeout.
                    if count == 0 || (count < 0 && errno == ECONNRESET) { closed = true }
                    guard count > 0 else { break }
                    text += String(decoding: chunk[..<count], as: UTF8.self)
                }
                continuation.resume(returning: (text, closed))
            }.start()
        }
    }
}
