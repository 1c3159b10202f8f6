/// One value of the Redis serialization protocol, version 2 (what Redis speaks unless a client
/// asks for more with `HELLO 3`).
@_spi(Internals) public enum RESPValue: Hashable, Sendable, CustomStringConvertible {
    /// `+OK`: a short status text.
    case simpleString(String)
    /// `-ERR …`: the server refused the command; the text names why.
    case error(String)
    /// `:42`.
    case integer(Int64)
    /// `$3\r\nfoo`: binary-safe bytes; `nil` is the null bulk string (`$-1`), for a missing key.
    case bulkString([UInt8]?)
    /// `*2\r\n…`: an array of values; `nil` is the null array (`*-1`).
    case array([RESPValue]?)
    /// A bulk string longer than the parser's ``RESPParser/Limits/maxBulkBytes``: its bytes were
    /// passed over, not kept.
    case skippedBulkString(byteCount: Int)

    /// The bytes of a bulk or simple string as text (invalid UTF-8 repaired), else `nil`.
    public var text: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let bytes?): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    /// A short form for logs, control characters escaped and long values cut.
    public var description: String {
        func shown(_ text: String) -> String {
            let escaped = text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
            return escaped.count > 80 ? String(escaped.prefix(80)) + "…" : escaped
        }
        switch self {
        case .simpleString(let text): return "+" + shown(text)
        case .error(let text): return "-" + shown(text)
        case .integer(let value): return ":\(value)"
        case .bulkString(nil): return "(nil)"
        case .bulkString(let bytes?): return "\"" + shown(String(decoding: bytes, as: UTF8.self)) + "\""
        case .array(nil): return "(nil array)"
        case .array(let values?): return "[" + values.prefix(8).map(\.description).joined(separator: ", ") + (values.count > 8 ? ", …" : "") + "]"
        case .skippedBulkString(let byteCount): return "(a bulk string of \(byteCount) bytes, skipped)"
        }
    }
}
