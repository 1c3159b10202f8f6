/// Reads the JSON object of one journal record by hand: one pass over the bytes, no decoder
/// and no intermediate tree, for the flat objects ``JournalRecord/line`` writes (string and
/// integer values; whitespace and unknown keys allowed).
///
/// Anything else (nested values, fractions, a duplicate key) returns `nil`, and the caller
/// falls back to `JSONDecoder`, so a record that is valid JSON is never lost.
struct JournalLineParser {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    private init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    /// The record in `json`, or `nil` when it is not a flat object this parser reads.
    static func parse(_ json: ArraySlice<UInt8>) -> JournalRecord? {
        var parser = JournalLineParser(json)
        return parser.record()
    }

    private mutating func record() -> JournalRecord? {
        var record = JournalRecord(op: "", network: "")
        var seenOperation = false
        var seenNetwork = false
        var seen: UInt16 = 0
        skipWhitespace()
        guard consume(UInt8(ascii: "{")) else { return nil }
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return nil }
        repeat {
            skipWhitespace()
            guard let key = string() else { return nil }
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            let field: UInt16
            switch key {
            case "op": field = 1; guard let value = string() else { return nil }; record.op = value; seenOperation = true
            case "network": field = 2; guard let value = string() else { return nil }; record.network = value; seenNetwork = true
            case "rule": field = 4; guard let value = string() else { return nil }; record.rule = value
            case "manual": field = 8; guard let value = string() else { return nil }; record.manual = value
            case "user": field = 16; guard let value = string() else { return nil }; record.user = value
            case "bannedAt": field = 32; guard let value = integer() else { return nil }; record.bannedAt = value
            case "expiresAt": field = 64; guard let value = integer() else { return nil }; record.expiresAt = value
            case "lastBanEnd": field = 128; guard let value = integer() else { return nil }; record.lastBanEnd = value
            case "banCount":
                field = 256
                guard let value = integer(), let count = Int(exactly: value) else { return nil }
                record.banCount = count
            default:
                field = 0
                guard skipScalar() else { return nil }
            }
            guard seen & field == 0 else { return nil }  // a duplicate key: let the decoder judge it
            seen |= field
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "}")) else { return nil }
        skipWhitespace()
        guard position == bytes.endIndex, seenOperation, seenNetwork else { return nil }
        return record
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard position < bytes.endIndex, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private mutating func skipWhitespace() {
        while position < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    /// A JSON integer that fits `Int64`; `nil` for fractions, exponents or overflow.
    private mutating func integer() -> Int64? {
        let negative = consume(UInt8(ascii: "-"))
        var value: Int64 = 0
        let start = position
        while position < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            let digit = Int64(bytes[position] - UInt8(ascii: "0"))
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            let (sum, overflowed) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflowed else { return nil }
            value = sum
            position += 1
        }
        guard position > start, position - start == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        if position < bytes.endIndex, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position]) { return nil }
        return value
    }

    /// A JSON string; escapes decoded, `\u` included (surrogate pairs joined); `nil` when malformed.
    private mutating func string() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = position
        // The common case: no escape, one copy; plain ASCII needs no UTF-8 validation.
        var isASCII = true
        while position < bytes.endIndex, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\"), bytes[position] >= 0x20 {
            isASCII = isASCII && bytes[position] < 0x80
            position += 1
        }
        guard position < bytes.endIndex else { return nil }
        if bytes[position] == UInt8(ascii: "\"") {
            defer { position += 1 }
            return isASCII ? String(decoding: bytes[start..<position], as: UTF8.self) : String(validating: bytes[start..<position], as: UTF8.self)
        }
        var decoded = Array(bytes[start..<position])
        while position < bytes.endIndex {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard position < bytes.endIndex else { return nil }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hexQuad() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard consume(UInt8(ascii: "\\")), consume(UInt8(ascii: "u")), let low = hexQuad(),
                              (0xDC00..<0xE000).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    decoded.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    return nil
                }
            case 0..<0x20:
                return nil
            default:
                decoded.append(byte)
            }
        }
        return nil
    }

    private mutating func hexQuad() -> UInt32? {
        guard bytes.endIndex - position >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexDigit(bytes[position]) else { return nil }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// Skips a string, an integer, `true`, `false` or `null`; `false` for anything else.
    private mutating func skipScalar() -> Bool {
        guard position < bytes.endIndex else { return false }
        switch bytes[position] {
        case UInt8(ascii: "\""): return string() != nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return integer() != nil
        default:
            for word in ["true", "false", "null"] where bytes[position...].starts(with: word.utf8) {
                position += word.utf8.count
                return true
            }
            return false
        }
    }
}
