#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address: the key the greylist bans, without port or hostname.
///
/// Every address is stored as 128 bits. An IPv4 address is held in its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`), so an IPv4 client seen by a dual-stack listener and the same client seen by
/// an IPv4 listener are one and the same key.
///
/// ```swift
/// let address = try IPAddress("::ffff:192.0.2.7")
/// print(address)          // 192.0.2.7
/// print(address.isIPv4)   // true
/// ```
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as a 128-bit number; IPv4 addresses are in the `::ffff:0:0/96` range.
    public let bits: UInt128

    /// The prefix that marks IPv4-mapped IPv6 addresses (`::ffff:0:0/96`).
    static let mappedIPv4Prefix: UInt128 = 0xffff << 32

    /// Creates an address from its 128-bit value.
    ///
    /// - Parameter bits: The address in network order read as one big-endian number. A value in
    ///   `::ffff:0:0/96` is an IPv4 address.
    public init(bits: UInt128) {
        self.bits = bits
    }

    /// Creates an IPv4 address from its 32-bit value in host byte order (`0xC0000207` is 192.0.2.7).
    ///
    /// - Parameter ipv4: The IPv4 address as a number.
    public init(ipv4: UInt32) {
        self.bits = Self.mappedIPv4Prefix | UInt128(ipv4)
    }

    /// Parses an address in dotted-quad IPv4 or RFC 4291 IPv6 text form.
    ///
    /// IPv4-mapped IPv6 text (`::ffff:192.0.2.7`) folds to the IPv4 address, and so does an
    /// address in the NAT64 well-known prefix (`64:ff9b::192.0.2.7`, RFC 6052). Leading zeros in IPv4
    /// octets, zone identifiers (`%eth0`), ports and brackets are refused rather than guessed at.
    ///
    /// - Parameter text: The address text, for example `"203.0.113.9"` or `"2001:db8::1"`.
    /// - Throws: ``GreylistError/invalidAddress(_:reason:)`` quoting `text`.
    public init(_ text: String) throws(GreylistError) {
        try self.init(text, foldingTranslated: true)
    }

    /// Parses address text, folding the NAT64 prefix or not (networks keep it as written).
    init(_ text: String, foldingTranslated: Bool) throws(GreylistError) {
        if text.contains(":") {
            guard let bits = AddressParser.parseIPv6(text) else {
                throw .invalidAddress(text, reason: "not an IPv6 address in RFC 4291 text form")
            }
            self.init(bits: foldingTranslated ? Self.foldingTranslated(bits) : bits)
        } else {
            guard let value = AddressParser.parseIPv4(text) else {
                throw .invalidAddress(text, reason: "not a dotted-quad IPv4 address")
            }
            self.init(ipv4: value)
        }
    }

    /// Reads the peer address that `accept(2)` or `getpeername(2)` stored, ignoring the port.
    ///
    /// - Parameter socketAddress: A pointer to a `sockaddr` of family `AF_INET` or `AF_INET6`.
    /// - Returns: `nil` for any other family (a Unix-domain peer has no IP address).
    public init?(socketAddress: UnsafePointer<sockaddr>) {
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            let raw = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            self.init(ipv4: UInt32(bigEndian: raw))
        case AF_INET6:
            let value = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { bytes in
                    bytes.reduce(UInt128(0)) { ($0 << 8) | UInt128($1) }
                }
            }
            self.init(bits: Self.foldingTranslated(value))
        default:
            return nil
        }
    }

    /// Reads the peer address from a `sockaddr_storage` filled by `accept(2)`.
    ///
    /// - Parameter storage: The storage the kernel filled.
    /// - Returns: `nil` when the family is neither `AF_INET` nor `AF_INET6`.
    public init?(socketAddress storage: sockaddr_storage) {
        var copy = storage
        let address = withUnsafePointer(to: &copy) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { IPAddress(socketAddress: $0) }
        }
        guard let address else { return nil }
        self = address
    }

    /// The well-known NAT64 prefix `64:ff9b::/96` (RFC 6052).
    static let translationPrefix: UInt128 = 0x0064_FF9B << 96

    /// An IPv4 client reaching an IPv6-only server through SIIT or NAT64 arrives as
    /// `64:ff9b::a.b.c.d`; it is keyed by the IPv4 address it embeds, so one bot does not ban the
    /// /64 that every translated IPv4 client shares.
    static func foldingTranslated(_ bits: UInt128) -> UInt128 {
        bits >> 32 == translationPrefix >> 32 ? mappedIPv4Prefix | (bits & 0xFFFF_FFFF) : bits
    }

    /// Whether this is an IPv4 address (including one that arrived IPv4-mapped).
    public var isIPv4: Bool {
        bits >> 32 == Self.mappedIPv4Prefix >> 32
    }

    /// The IPv4 value in host byte order, or `nil` for an IPv6 address.
    public var ipv4: UInt32? {
        isIPv4 ? UInt32(truncatingIfNeeded: bits) : nil
    }

    /// The canonical text: dotted quad for IPv4, RFC 5952 for IPv6.
    public var description: String {
        if let ipv4 {
            return AddressFormatter.ipv4(ipv4)
        }
        return AddressFormatter.ipv6(bits)
    }

    /// Orders addresses by their 128-bit value, which places every IPv4 address in one run.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        lhs.bits < rhs.bits
    }
}
