/// Strict text parsers for IPv4 and IPv6 addresses, working on UTF-8 bytes without Foundation.
enum AddressParser {
    /// Parses `a.b.c.d` with four decimal octets, no leading zeros and nothing else.
    static func parseIPv4(_ text: String) -> UInt32? {
        parseIPv4(Array(text.utf8)[...])
    }

    static func parseIPv4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits == 1 && leadingZero { return nil }
                if digits == 0 { leadingZero = byte == UInt8(ascii: "0") }
                current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                if current > 255 || digits > 3 { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
            default:
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | current
    }

    /// Parses RFC 4291 text: eight groups, one `::` for a zero run, optional trailing dotted quad.
    static func parseIPv6(_ text: String) -> UInt128? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawCompression = false
        var index = 0
        if bytes.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            sawCompression = true
            index = 2
        } else if bytes[0] == UInt8(ascii: ":") {
            return nil
        }
        while index < bytes.count {
            // A group is hex digits up to ':' or the end; a dotted quad may close the address.
            var end = index
            while end < bytes.count, bytes[end] != UInt8(ascii: ":") { end += 1 }
            let group = bytes[index..<end]
            if group.contains(UInt8(ascii: ".")) {
                guard end == bytes.count, let ipv4 = parseIPv4(group) else { return nil }
                let pair = [UInt16(ipv4 >> 16), UInt16(truncatingIfNeeded: ipv4)]
                if sawCompression { tail += pair } else { head += pair }
                index = end
                break
            }
            guard let value = parseHexGroup(group) else { return nil }
            if sawCompression { tail.append(value) } else { head.append(value) }
            if end == bytes.count { index = end; break }
            // bytes[end] is ':'; a second ':' is the compression marker.
            if end + 1 < bytes.count, bytes[end + 1] == UInt8(ascii: ":") {
                guard !sawCompression else { return nil }
                sawCompression = true
                index = end + 2
            } else {
                guard end + 1 < bytes.count else { return nil }
                index = end + 1
            }
        }
        let groups: [UInt16]
        if sawCompression {
            guard head.count + tail.count <= 7 else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard head.count == 8 else { return nil }
            groups = head
        }
        return groups.reduce(UInt128(0)) { $0 << 16 | UInt128($1) }
    }

    private static func parseHexGroup(_ group: ArraySlice<UInt8>) -> UInt16? {
        guard !group.isEmpty, group.count <= 4 else { return nil }
        var value: UInt16 = 0
        for byte in group {
            guard let digit = hexDigit(byte) else { return nil }
            value = value << 4 | UInt16(digit)
        }
        return value
    }
}

/// The value of one hexadecimal digit (either case), or `nil`.
@inline(__always)
func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
