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
        parseIPv6(Array(text.utf8)[...])
    }

    /// ``parseIPv6(_:)-(String)`` on UTF-8 bytes, without allocating: the groups before and after
    /// `::` are gathered into two numbers.
    static func parseIPv6(_ bytes: ArraySlice<UInt8>) -> UInt128? {
        guard bytes.count >= 2, bytes.count <= 45 else { return nil }
        var head: UInt128 = 0
        var headCount = 0
        var tail: UInt128 = 0
        var tailCount = 0
        var sawCompression = false
        let end = bytes.endIndex
        var index = bytes.startIndex
        func add(_ group: UInt16) {
            if sawCompression {
                tail = tail << 16 | UInt128(group)
                tailCount += 1
            } else {
                head = head << 16 | UInt128(group)
                headCount += 1
            }
        }
        if bytes[index] == UInt8(ascii: ":") {
            guard bytes[index + 1] == UInt8(ascii: ":") else { return nil }
            sawCompression = true
            index += 2
        }
        while index < end {
            // A group is hex digits up to ':' or the end; a dotted quad may close the address.
            var groupEnd = index
            while groupEnd < end, bytes[groupEnd] != UInt8(ascii: ":") { groupEnd += 1 }
            let group = bytes[index..<groupEnd]
            if group.contains(UInt8(ascii: ".")) {
                guard groupEnd == end, let ipv4 = parseIPv4(group) else { return nil }
                add(UInt16(ipv4 >> 16))
                add(UInt16(truncatingIfNeeded: ipv4))
                index = groupEnd
                break
            }
            guard let value = parseHexGroup(group) else { return nil }
            add(value)
            if groupEnd == end { index = groupEnd; break }
            // bytes[groupEnd] is ':'; a second ':' is the compression marker.
            if groupEnd + 1 < end, bytes[groupEnd + 1] == UInt8(ascii: ":") {
                guard !sawCompression else { return nil }
                sawCompression = true
                index = groupEnd + 2
            } else {
                guard groupEnd + 1 < end else { return nil }
                index = groupEnd + 1
            }
        }
        if sawCompression {
            guard headCount + tailCount <= 7 else { return nil }
            return (headCount == 0 ? 0 : head << (16 * (8 - headCount))) | tail
        }
        guard headCount == 8 else { return nil }
        return head
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
