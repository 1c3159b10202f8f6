/// Escaping for XML character data and attribute values.
enum XMLText {
    static func escape(_ text: String) -> String {
        guard text.contains(where: { "<>&'\"".contains($0) }) else { return text }
        var escaped = ""
        for character in text {
            switch character {
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "&": escaped += "&amp;"
            case "'": escaped += "&apos;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// Decodes character data: UTF-8 checked, control characters refused, only the five
    /// predefined entities and character references allowed (RFC 6120 §11.1).
    static func decode(_ bytes: ArraySlice<UInt8>) throws(XMLStreamViolation) -> String {
        for byte in bytes where byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D {
            throw .notWellFormed("control character 0x\(String(byte, radix: 16)) in text")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .notWellFormed("text is not valid UTF-8")
        }
        guard text.contains("&") else { return text }
        var decoded = ""
        var rest = Substring(text)
        while let ampersand = rest.firstIndex(of: "&") {
            decoded += rest[..<ampersand]
            guard let semicolon = rest[ampersand...].firstIndex(of: ";"),
                  rest.distance(from: ampersand, to: semicolon) <= 10 else {
                throw .notWellFormed("unterminated entity reference")
            }
            let entity = rest[rest.index(after: ampersand)..<semicolon]
            decoded.append(try resolve(entity))
            rest = rest[rest.index(after: semicolon)...]
        }
        return decoded + rest
    }

    private static func resolve(_ entity: Substring) throws(XMLStreamViolation) -> Character {
        switch entity {
        case "lt": return "<"
        case "gt": return ">"
        case "amp": return "&"
        case "apos": return "'"
        case "quot": return "\""
        default:
            guard entity.hasPrefix("#") else {
                throw .restrictedXML("entity &\(entity); is not one of the five predefined entities")
            }
            let digits = entity.dropFirst()
            let value = digits.hasPrefix("x") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
            guard let value, value == 0x9 || value == 0xA || value == 0xD || value >= 0x20,
                  let scalar = Unicode.Scalar(value) else {
                throw .notWellFormed("invalid character reference &\(entity);")
            }
            return Character(scalar)
        }
    }

    /// Validates an element or attribute name.
    static func name(_ bytes: ArraySlice<UInt8>) throws(XMLStreamViolation) -> String {
        guard let first = bytes.first, isNameStart(first), bytes.allSatisfy(isNameCharacter),
              let name = String(validating: bytes, as: UTF8.self) else {
            throw .notWellFormed("invalid name \"\(String(decoding: bytes.prefix(64), as: UTF8.self))\"")
        }
        return name
    }

    /// Splits a start tag's body (between `<` and `>` or `/>`) into its name and attributes.
    static func parseTag(_ body: ArraySlice<UInt8>) throws(XMLStreamViolation) -> (String, [String: String]) {
        var index = body.startIndex
        func skipWhitespace() {
            while index < body.endIndex, isWhitespace(body[index]) { index += 1 }
        }
        let nameStart = index
        while index < body.endIndex, !isWhitespace(body[index]) { index += 1 }
        let name = try self.name(body[nameStart..<index])
        var attributes: [String: String] = [:]
        while true {
            skipWhitespace()
            guard index < body.endIndex else { break }
            let keyStart = index
            while index < body.endIndex, body[index] != UInt8(ascii: "="), !isWhitespace(body[index]) { index += 1 }
            let key = try self.name(body[keyStart..<index])
            skipWhitespace()
            guard index < body.endIndex, body[index] == UInt8(ascii: "=") else {
                throw .notWellFormed("attribute \(key) has no value")
            }
            index += 1
            skipWhitespace()
            guard index < body.endIndex, body[index] == UInt8(ascii: "'") || body[index] == UInt8(ascii: "\"") else {
                throw .notWellFormed("attribute \(key) is not quoted")
            }
            let quote = body[index]
            index += 1
            let valueStart = index
            while index < body.endIndex, body[index] != quote { index += 1 }
            guard index < body.endIndex else { throw .notWellFormed("attribute \(key) is not closed") }
            let raw = body[valueStart..<index]
            index += 1
            guard !raw.contains(UInt8(ascii: "<")) else { throw .notWellFormed("'<' in attribute \(key)") }
            guard attributes.updateValue(try decode(raw), forKey: key) == nil else {
                throw .notWellFormed("attribute \(key) appears twice")
            }
            if index < body.endIndex && !isWhitespace(body[index]) {
                throw .notWellFormed("attributes must be separated by white space")
            }
        }
        return (name, attributes)
    }

    /// The bytes of `text` without XML white space at either end: one pass over the bytes, no
    /// `Character` walk (a long run of white space costs what its bytes cost).
    static func trimmingWhitespace(_ text: String.UTF8View) -> [UInt8] {
        guard let first = text.firstIndex(where: { !isWhitespace($0) }),
              let last = text.lastIndex(where: { !isWhitespace($0) }) else { return [] }
        return Array(text[first...last])
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func isNameStart(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte >= 0x80
    }

    private static func isNameCharacter(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }
}
