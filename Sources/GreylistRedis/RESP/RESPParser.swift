/// Reads RESP version 2 replies from bytes as they arrive: sans-IO (bytes in, values out), and
/// resumable, so a reply that arrives a byte at a time costs the same as one that arrives whole.
///
/// Every byte is examined a bounded number of times: a line being read remembers how far it was
/// scanned, a bulk string waits for its whole length before it is copied once, and arrays are
/// built on an explicit stack (no recursion). Limits bound memory and work under a hostile or
/// broken server: the most elements in one array, the deepest nesting, and the longest line;
/// breaking one is a ``RESPError`` naming the value, and the parser then refuses everything (the
/// stream is out of step). A bulk string longer than ``Limits/maxBulkBytes`` is not an error:
/// its bytes are dropped as they arrive (never held) and it comes back as
/// ``RESPValue/skippedBulkString(byteCount:)``, so one huge key or message costs its bytes'
/// passage and nothing more, and the stream stays in step.
///
/// ```swift
/// var parser = RESPParser()
/// parser.append(Array("+OK\r\n:42\r\n".utf8))
/// try parser.next()   // .simpleString("OK")
/// try parser.next()   // .integer(42)
/// try parser.next()   // nil: waiting for more bytes
/// ```
@_spi(Internals) public struct RESPParser: Sendable {
    /// Bounds on what one reply may hold.
    public struct Limits: Hashable, Sendable {
        /// The longest bulk string kept, in bytes; a longer one is skipped.
        public var maxBulkBytes: Int
        /// The most elements in one array.
        public var maxArrayElements: Int
        /// The deepest nesting of arrays.
        public var maxDepth: Int
        /// The longest status, error or length line, in bytes.
        public var maxLineBytes: Int
        /// The most one reply may hold: its bulk strings' bytes plus 16 bytes per value. A
        /// hostile server's arrays of long strings break it before they are held.
        public var maxReplyBytes: Int = 64 << 20

        /// Creates limits; the defaults fit every reply the greylist's commands get.
        ///
        /// - Parameters:
        ///   - maxBulkBytes: Default 1 MiB.
        ///   - maxArrayElements: Default 1,048,576.
        ///   - maxDepth: Default 8.
        ///   - maxLineBytes: Default 64 KiB.
        public init(maxBulkBytes: Int = 1 << 20, maxArrayElements: Int = 1 << 20, maxDepth: Int = 8, maxLineBytes: Int = 65_536) {
            self.maxBulkBytes = maxBulkBytes
            self.maxArrayElements = maxArrayElements
            self.maxDepth = maxDepth
            self.maxLineBytes = maxLineBytes
        }
    }

    /// The limits in force.
    public let limits: Limits
    private var buffer: [UInt8] = []
    private var position = 0
    /// Where the search for the current line's CR LF resumes.
    private var lineScanned = 0
    /// Arrays being filled, innermost last.
    private var stack: [(expected: Int, elements: [RESPValue])] = []
    /// A bulk string over the limit being passed over: bytes still to drop, CR LF included.
    private var skipping: (remaining: Int, byteCount: Int)?
    private var failure: RESPError?
    /// What the reply being read holds so far (see ``Limits/maxReplyBytes``).
    private var replyBytes = 0

    /// The longest bulk string Redis itself accepts (`proto-max-bulk-len`, 512 MB): a longer
    /// announced length is not Redis talking, and is an error rather than a long skip.
    public static let longestBulkString = 512 << 20

    /// Creates a parser.
    ///
    /// - Parameter limits: Bounds on one reply.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes received and not yet part of a returned value.
    public var bufferedBytes: Int {
        buffer.count - position
    }

    /// Adds received bytes.
    ///
    /// - Parameter bytes: The next bytes of the stream.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        if position > 0 && position >= buffer.count / 2 {
            buffer.removeFirst(position)
            lineScanned -= position
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole value, or `nil` until more bytes arrive.
    ///
    /// - Throws: ``RESPError`` for bytes that are not RESP or break a limit; every later call
    ///   throws it again.
    public mutating func next() throws(RESPError) -> RESPValue? {
        if let failure { throw failure }
        do {
            while true {
                guard let value = try scalarOrArrayStart() else { return nil }
                try count(value)
                guard var completed = value else { continue }  // an array opened: read its elements
                while !stack.isEmpty {
                    let innermost = stack.count - 1
                    stack[innermost].elements.append(completed)
                    guard stack[innermost].elements.count == stack[innermost].expected else { break }
                    completed = .array(stack.removeLast().elements)
                }
                if stack.isEmpty {
                    replyBytes = 0
                    return completed
                }
            }
        } catch {
            failure = error
            throw error
        }
    }

    /// Reads one value's start: `nil` when more bytes are needed; `.some(nil)` when an array
    /// was opened (its elements follow); otherwise a complete scalar or empty array.
    private mutating func scalarOrArrayStart() throws(RESPError) -> RESPValue?? {
        if skipping != nil {
            guard let skipped = try skip() else { return nil }
            return .some(skipped)
        }
        guard let lineEnd = try findLineEnd() else { return nil }
        guard lineEnd > position else { throw RESPError("an empty line where a value's type byte belongs") }
        let kind = buffer[position]
        let content = buffer[(position + 1)..<lineEnd]
        switch kind {
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let text = String(validating: content, as: UTF8.self) else {
                throw RESPError("a \(kind == UInt8(ascii: "+") ? "status" : "error") line that is not UTF-8")
            }
            consumeLine(lineEnd)
            return .some(kind == UInt8(ascii: "+") ? .simpleString(text) : .error(text))
        case UInt8(ascii: ":"):
            let value = try Self.number(content, what: "integer")
            consumeLine(lineEnd)
            return .some(.integer(value))
        case UInt8(ascii: "$"):
            let length = try Self.number(content, what: "bulk string length")
            if length == -1 {
                consumeLine(lineEnd)
                return .some(.bulkString(nil))
            }
            guard length >= 0 else { throw RESPError("bulk string length \(length)") }
            guard length <= Self.longestBulkString else {
                throw RESPError("bulk string of \(length) bytes, over Redis's own maximum of \(Self.longestBulkString)")
            }
            guard length <= limits.maxBulkBytes else {
                consumeLine(lineEnd)
                skipping = (Int(length) + 2, Int(length))
                guard let skipped = try skip() else { return nil }
                return .some(skipped)
            }
            let start = lineEnd + 2
            guard buffer.count - start >= Int(length) + 2 else { return nil }  // wait for the whole string
            let end = start + Int(length)
            guard buffer[end] == 0x0D, buffer[end + 1] == 0x0A else {
                throw RESPError("bulk string of \(length) bytes not followed by CR LF")
            }
            let bytes = Array(buffer[start..<end])
            position = end + 2
            lineScanned = position
            return .some(.bulkString(bytes))
        case UInt8(ascii: "*"):
            let count = try Self.number(content, what: "array length")
            consumeLine(lineEnd)
            if count == -1 { return .some(.array(nil)) }
            guard count >= 0 else { throw RESPError("array length \(count)") }
            guard count <= limits.maxArrayElements else {
                throw RESPError("array of \(count) elements, over the limit of \(limits.maxArrayElements)")
            }
            if count == 0 { return .some(.array([])) }
            guard stack.count < limits.maxDepth else { throw RESPError("arrays nested deeper than \(limits.maxDepth)") }
            stack.append((Int(count), []))
            return .some(nil)
        default:
            throw RESPError("type byte 0x\(String(kind, radix: 16)) (expected +, -, :, $ or *)")
        }
    }

    /// Adds one value to what the reply being read holds; throws past ``Limits/maxReplyBytes``.
    private mutating func count(_ value: RESPValue?) throws(RESPError) {
        replyBytes += 16
        if case .bulkString(let bytes?) = value { replyBytes += bytes.count }
        guard replyBytes <= limits.maxReplyBytes else { throw RESPError("a reply over \(limits.maxReplyBytes) bytes") }
    }

    /// Drops what has arrived of a bulk string over the limit; the value once its CR LF is read,
    /// `nil` until then.
    private mutating func skip() throws(RESPError) -> RESPValue? {
        guard let (left, byteCount) = skipping else { return nil }
        var remaining = left
        if remaining > 2 {
            let dropped = min(buffer.count - position, remaining - 2)
            position += dropped
            remaining -= dropped
            lineScanned = position
            skipping = (remaining, byteCount)
            if remaining > 2 { return nil }
        }
        guard buffer.count - position >= 2 else { return nil }
        guard buffer[position] == 0x0D, buffer[position + 1] == 0x0A else {
            throw RESPError("bulk string of \(byteCount) bytes not followed by CR LF")
        }
        consumeLine(position)
        skipping = nil
        return .skippedBulkString(byteCount: byteCount)
    }

    /// The index of the CR of the line starting at `position`, or `nil` until it is whole.
    private mutating func findLineEnd() throws(RESPError) -> Int? {
        guard position < buffer.count else { return nil }
        var index = max(lineScanned, position)
        while index + 1 < buffer.count {
            if buffer[index] == 0x0D {
                guard buffer[index + 1] == 0x0A else { throw RESPError("CR not followed by LF") }
                guard index - position <= limits.maxLineBytes else {
                    throw RESPError("a line longer than \(limits.maxLineBytes) bytes")
                }
                return index
            }
            index += 1
        }
        lineScanned = index
        guard index - position <= limits.maxLineBytes else {
            throw RESPError("a line longer than \(limits.maxLineBytes) bytes")
        }
        return nil
    }

    private mutating func consumeLine(_ lineEnd: Int) {
        position = lineEnd + 2
        lineScanned = position
    }

    /// A signed decimal that fits `Int64`: no sign but a leading '-', no leading '+', digits only.
    private static func number(_ bytes: ArraySlice<UInt8>, what: String) throws(RESPError) -> Int64 {
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 19 else {
            throw RESPError("\(what) \"\(String(decoding: bytes.prefix(32), as: UTF8.self))\"")
        }
        var value: Int64 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw RESPError("\(what) \"\(String(decoding: bytes.prefix(32), as: UTF8.self))\"")
            }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowed) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow, !overflowed else { throw RESPError("\(what) \"\(String(decoding: bytes, as: UTF8.self))\" out of range") }
            value = sum
        }
        return negative ? -value : value
    }
}
