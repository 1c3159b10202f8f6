#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Greylist

/// The secret every node of a cluster shares: each record a node writes to Redis carries an
/// HMAC-SHA-256 under it, and a record without a valid one is foreign (skipped, counted and
/// reported), so whoever can write to Redis without the key cannot ban, unban or trust anything.
///
/// Make one with `head -c 32 /dev/urandom | base64 > /etc/greylist/cluster.key`, readable by the
/// server's user alone, and give every node the same file.
public struct ClusterKey: Hashable, Sendable, CustomStringConvertible {
    /// The fewest bytes a key may have.
    public static let minimumLength = 16

    let bytes: [UInt8]

    /// A key from its bytes.
    ///
    /// - Parameter bytes: At least ``minimumLength`` bytes of secret.
    /// - Throws: ``RedisError`` (`.invalidSetting`) when the key is too short; the message
    ///   gives its length, never its bytes.
    public init(_ bytes: [UInt8]) throws(RedisError) {
        guard bytes.count >= Self.minimumLength else {
            throw .invalidSetting("a key of \(bytes.count) bytes", reason: "a cluster key needs at least \(Self.minimumLength) bytes")
        }
        self.bytes = bytes
    }

    /// Reads a key file: its bytes without the white space at either end (a base64 line works).
    ///
    /// - Parameter path: The file; refused when it is a symbolic link, not a regular file,
    ///   larger than 4 KiB, or readable or writable by others than its owner and group.
    /// - Throws: ``RedisError`` (`.invalidSetting`) naming the path.
    public init(contentsOfFile path: String) throws(RedisError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else {
            throw .invalidSetting(path, reason: "cannot open the cluster key file: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw .invalidSetting(path, reason: "the cluster key must be a regular file")
        }
        guard status.st_mode & 0o007 == 0 else {
            throw .invalidSetting(path, reason: "the cluster key file is open to other users (mode \(String(status.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
        guard status.st_size <= 4_096 else { throw .invalidSetting(path, reason: "a cluster key file is at most 4096 bytes") }
        var contents = [UInt8](repeating: 0, count: 4_097)
        var total = 0
        while total < contents.count {
            let count = contents.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + total, $0.count - total) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            total += count
        }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let trimmed = contents[..<total].drop(while: isSpace).reversed().drop(while: isSpace).reversed()
        do {
            try self.init(Array(trimmed))
        } catch {
            throw .invalidSetting(path, reason: "the cluster key file holds \(trimmed.count) bytes; at least \(Self.minimumLength) are needed")
        }
    }

    /// The tag of `message`: HMAC-SHA-256, 64 lowercase hexadecimal digits.
    func tag(_ message: some Collection<UInt8>) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return SHA256.authenticationCode(key: bytes, message: message).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }
    }

    /// Never the key itself.
    public var description: String {
        "ClusterKey(\(bytes.count) bytes)"
    }
}
