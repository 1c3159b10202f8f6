/// A CIDR block such as `203.0.113.0/24` or `2001:db8::/32`.
///
/// The address is always stored masked, so `203.0.113.77/24` and `203.0.113.0/24` are equal.
/// An IPv4 network's prefix length counts IPv4 bits (0...32); an IPv6 network's counts 0...128.
public struct IPNetwork: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The first address of the block (host bits cleared).
    public let address: IPAddress
    /// The prefix length in the address family's own bits: 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int

    /// Creates the network that contains `address` with the given prefix length.
    ///
    /// - Parameters:
    ///   - address: Any address inside the network; host bits are cleared.
    ///   - prefixLength: 0...32 for IPv4, 0...128 for IPv6.
    /// - Throws: ``GreylistError/invalidNetwork(_:reason:)`` when the length is out of range.
    public init(address: IPAddress, prefixLength: Int) throws(GreylistError) {
        let limit = address.isIPv4 ? 32 : 128
        guard (0...limit).contains(prefixLength) else {
            throw .invalidNetwork("\(address)/\(prefixLength)", reason: "prefix length must be 0...\(limit)")
        }
        self.init(unchecked: address, prefixLength: prefixLength)
    }

    init(unchecked address: IPAddress, prefixLength: Int) {
        let wide = (address.isIPv4 ? 96 : 0) + prefixLength
        self.address = IPAddress(bits: address.bits & Self.mask(wide))
        self.prefixLength = prefixLength
    }

    /// The single-address network (`/32` or `/128`) of `address`.
    ///
    /// - Parameter address: The address.
    public init(host address: IPAddress) {
        self.init(unchecked: address, prefixLength: address.isIPv4 ? 32 : 128)
    }

    /// Parses CIDR text (`198.51.100.0/24`, `2001:db8::/48`); a bare address is a host network.
    ///
    /// Set host bits are accepted and cleared (`10.1.2.3/8` is `10.0.0.0/8`), as routers do.
    ///
    /// - Parameter text: The CIDR text.
    /// - Throws: ``GreylistError/invalidNetwork(_:reason:)`` quoting `text`.
    public init(_ text: String) throws(GreylistError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let address: IPAddress
        do {
            // Written as a network, `64:ff9b::/96` is the IPv6 translation prefix itself: the
            // NAT64 folding applies to peers' addresses, not to networks.
            address = try IPAddress(String(parts[0]), foldingTranslated: false)
        } catch {
            throw .invalidNetwork(text, reason: "\"\(parts[0])\" is not an IP address")
        }
        guard parts.count == 2 else {
            self.init(host: address)
            return
        }
        let lengthText = parts[1]
        guard !lengthText.isEmpty, lengthText.count <= 3, lengthText.allSatisfy(\.isASCII),
              lengthText.allSatisfy(\.isNumber), var length = Int(lengthText) else {
            throw .invalidNetwork(text, reason: "prefix length \"\(lengthText)\" is not a number")
        }
        // `::ffff:10.0.0.0/104` written in IPv6 form is the IPv4 network 10.0.0.0/8.
        let writtenAsIPv6 = parts[0].contains(":")
        if writtenAsIPv6 && address.isIPv4 {
            guard length >= 96 else {
                throw .invalidNetwork(text, reason: "an IPv4-mapped network needs a prefix length of 96...128")
            }
            length -= 96
        }
        let limit = address.isIPv4 ? 32 : 128
        guard length <= limit else {
            throw .invalidNetwork(text, reason: "prefix length must be 0...\(limit)")
        }
        self.init(unchecked: address, prefixLength: length)
    }

    /// Parses CIDR text in UTF-8 bytes exactly as ``init(_:)`` does, without allocating (the
    /// journal reader's path); `nil` where that initializer throws.
    static func parse(_ bytes: ArraySlice<UInt8>) -> IPNetwork? {
        let slash = bytes.firstIndex(of: UInt8(ascii: "/"))
        let addressBytes = bytes[..<(slash ?? bytes.endIndex)]
        let writtenAsIPv6 = addressBytes.contains(UInt8(ascii: ":"))
        let address: IPAddress
        if writtenAsIPv6 {
            guard let bits = AddressParser.parseIPv6(addressBytes) else { return nil }
            address = IPAddress(bits: bits)
        } else {
            guard let value = AddressParser.parseIPv4(addressBytes) else { return nil }
            address = IPAddress(ipv4: value)
        }
        guard let slash else { return IPNetwork(host: address) }
        let digits = bytes[(slash + 1)...]
        guard !digits.isEmpty, digits.count <= 3 else { return nil }
        var length = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            length = length * 10 + Int(byte - UInt8(ascii: "0"))
        }
        if writtenAsIPv6 && address.isIPv4 {
            guard length >= 96 else { return nil }
            length -= 96
        }
        guard length <= (address.isIPv4 ? 32 : 128) else { return nil }
        return IPNetwork(unchecked: address, prefixLength: length)
    }

    /// The prefix length over all 128 bits (an IPv4 /24 is a /120 here).
    var widePrefixLength: Int {
        (address.isIPv4 ? 96 : 0) + prefixLength
    }

    /// Whether `address` lies inside this network.
    ///
    /// - Parameter candidate: The address to test.
    /// - Returns: `true` when the candidate's first `prefixLength` bits equal the network's.
    /// - Complexity: O(1).
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.isIPv4 == address.isIPv4 else { return false }
        return candidate.bits & Self.mask(widePrefixLength) == address.bits
    }

    /// Whether every address of `other` lies inside this network.
    ///
    /// - Parameter other: The network to test.
    /// - Returns: `true` when `other` is this network or a smaller block inside it.
    public func contains(_ other: IPNetwork) -> Bool {
        other.address.isIPv4 == address.isIPv4 && other.prefixLength >= prefixLength && contains(other.address)
    }

    /// The CIDR text, such as `203.0.113.0/24`.
    public var description: String {
        "\(address)/\(prefixLength)"
    }

    /// Orders networks by address, then by prefix length.
    public static func < (lhs: IPNetwork, rhs: IPNetwork) -> Bool {
        (lhs.address, lhs.prefixLength) < (rhs.address, rhs.prefixLength)
    }

    /// Decodes CIDR text.
    ///
    /// - Parameter decoder: The decoder holding a string.
    /// - Throws: ``GreylistError/invalidNetwork(_:reason:)`` when the text is no CIDR.
    public init(from decoder: any Decoder) throws {
        try self.init(decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes the CIDR text.
    ///
    /// - Parameter encoder: The encoder to write a string to.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The mask of the first `length` bits of 128.
    @inline(__always)
    static func mask(_ length: Int) -> UInt128 {
        length == 0 ? 0 : ~UInt128(0) << (128 - length)
    }
}
