/// An incremental parser for an XMPP stream: the root `<stream:stream>` header, then one complete
/// top-level element (stanza) at a time.
///
/// It enforces RFC 6120's restricted XML (no comments, processing instructions, DTDs or entity
/// references beyond the five predefined ones) and the server's bounds: a stanza or a single tag
/// larger than `maxStanzaBytes`, or nesting deeper than `maxDepth`, is a violation. Unconsumed
/// input is bounded by the same limit, and the scan resumes where it stopped, so a client
/// trickling one byte at a time costs linear work.
///
/// Sans-IO: ``feed(_:)`` takes bytes from any shell and returns the events they complete; the
/// bytes are copied once, into the parser's own buffer.
package struct XMLStreamParser: Sendable {
    /// The largest stanza, single tag or unconsumed input accepted.
    package let maxStanzaBytes: Int
    /// The deepest element nesting accepted within a stanza.
    package let maxDepth: Int

    private var buffer: [UInt8] = []
    private var position = 0
    /// How far the incomplete token at `position` has been scanned, and the quote it is inside.
    private var scanned = 0
    private var openQuote: UInt8?
    /// Elements of the stanza being built, outermost first.
    private var open: [XMPPElement] = []
    private var stanzaBytes = 0
    private var streamOpened = false
    private var streamName = ""
    private var streamNamespace = ""
    private var seenAnyToken = false

    /// Creates a parser for a new stream.
    ///
    /// - Parameters:
    ///   - maxStanzaBytes: The largest stanza accepted.
    ///   - maxDepth: The deepest nesting accepted.
    package init(maxStanzaBytes: Int, maxDepth: Int) {
        self.maxStanzaBytes = maxStanzaBytes
        self.maxDepth = maxDepth
    }

    /// Forgets everything: the next bytes start a new stream (after SASL success).
    package mutating func reset() {
        self = XMLStreamParser(maxStanzaBytes: maxStanzaBytes, maxDepth: maxDepth)
    }

    /// Consumes bytes and returns the events they complete.
    ///
    /// - Parameter bytes: The next bytes of the stream, borrowed (copied once into the buffer).
    /// - Returns: The stream header, stanzas and the close that these bytes complete, in order.
    /// - Throws: ``XMLStreamViolation`` when the input breaks RFC 6120's XML rules or the bounds;
    ///   the stream must then be closed.
    package mutating func feed(_ bytes: some Collection<UInt8>) throws(XMLStreamViolation) -> [XMLStreamEvent] {
        buffer.append(contentsOf: bytes)
        var events: [XMLStreamEvent] = []
        while position < buffer.count {
            if buffer[position] == UInt8(ascii: "<") {
                guard let end = findTagEnd() else {
                    try checkPending()
                    break
                }
                let token = buffer[(position + 1)..<end]
                let length = end + 1 - position
                position = end + 1
                scanned = position
                if let event = try handleTag(token, length: length) {
                    events.append(event)
                    if case .streamClosed = event { break }
                }
            } else {
                let start = max(scanned, position)
                guard let less = buffer[start...].firstIndex(of: UInt8(ascii: "<")) else {
                    if open.isEmpty, buffer[start...].contains(where: { !Self.isWhitespace($0) }) {
                        // Text outside any element can never become valid: say so now rather
                        // than wait for a '<' (an HTTP request, a port scanner's banner).
                        throw .notWellFormed("text outside any element")
                    }
                    scanned = buffer.count
                    try checkPending()
                    break
                }
                let text = buffer[position..<less]
                position = less
                scanned = position
                try handleText(text)
            }
        }
        if position == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 65_536)
            position = 0
            scanned = 0
        } else if position > 4_096 {
            buffer.removeFirst(position)
            scanned -= position
            position = 0
        }
        return events
    }

    /// The index of the `>` closing the tag at `position`, honouring quoted attribute values.
    private mutating func findTagEnd() -> Int? {
        var index = max(scanned, position + 1)
        while index < buffer.count {
            let byte = buffer[index]
            if let quote = openQuote {
                if byte == quote { openQuote = nil }
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                openQuote = byte
            } else if byte == UInt8(ascii: ">") {
                return index
            }
            index += 1
        }
        scanned = index
        return nil
    }

    /// Fails when the incomplete token or text waiting in the buffer is already too large.
    private func checkPending() throws(XMLStreamViolation) {
        if buffer.count - position + stanzaBytes > maxStanzaBytes {
            throw .tooLarge("more than \(maxStanzaBytes) bytes in one stanza")
        }
    }

    private mutating func handleText(_ bytes: ArraySlice<UInt8>) throws(XMLStreamViolation) {
        guard !open.isEmpty else {
            // Between stanzas only whitespace (keepalives) is allowed.
            guard bytes.allSatisfy(Self.isWhitespace) else {
                throw .notWellFormed("text outside any element")
            }
            return
        }
        try count(bytes.count)
        open[open.count - 1].text += try XMLText.decode(bytes)
    }

    private mutating func count(_ length: Int) throws(XMLStreamViolation) {
        stanzaBytes += length
        if stanzaBytes > maxStanzaBytes {
            throw .tooLarge("more than \(maxStanzaBytes) bytes in one stanza")
        }
    }

    private mutating func handleTag(_ token: ArraySlice<UInt8>, length: Int) throws(XMLStreamViolation) -> XMLStreamEvent? {
        defer { seenAnyToken = true }
        guard let first = token.first else { throw .notWellFormed("empty tag") }
        switch first {
        case UInt8(ascii: "?"):
            let isDeclaration = token.starts(with: Array("?xml ".utf8)) && token.last == UInt8(ascii: "?")
            guard isDeclaration && !seenAnyToken else {
                throw .restrictedXML("processing instructions are not allowed")
            }
            return nil
        case UInt8(ascii: "!"):
            throw .restrictedXML("comments, CDATA and DTDs are not allowed")
        case UInt8(ascii: "/"):
            return try handleEndTag(token.dropFirst())
        default:
            return try handleStartTag(token, length: length)
        }
    }

    private mutating func handleEndTag(_ token: ArraySlice<UInt8>) throws(XMLStreamViolation) -> XMLStreamEvent? {
        let name = try XMLText.name(token.trimmingTrailingWhitespace())
        guard let element = open.popLast() else {
            guard streamOpened, name == streamName else { throw .notWellFormed("unexpected end tag </\(name)>") }
            return .streamClosed
        }
        guard element.name == name else {
            throw .notWellFormed("end tag </\(name)> does not close <\(element.name)>")
        }
        try count(token.count + 3)
        return complete(element)
    }

    private mutating func handleStartTag(_ token: ArraySlice<UInt8>, length: Int) throws(XMLStreamViolation) -> XMLStreamEvent? {
        let selfClosing = token.last == UInt8(ascii: "/")
        let body = selfClosing ? token.dropLast() : token
        let (name, attributes) = try XMLText.parseTag(body)
        guard streamOpened else {
            guard !selfClosing else { throw .notWellFormed("the stream header cannot be self-closing") }
            streamOpened = true
            streamName = name
            streamNamespace = attributes["xmlns"] ?? ""
            return .streamOpened(name: name, attributes: attributes)
        }
        if open.isEmpty { stanzaBytes = 0 }
        // The budget counts what is stored, not only what arrived: an element and each attribute
        // cost their bytes plus what the tree spends on them, so 64 KB of `<a b=''/>` cannot
        // become a megabyte of elements.
        try count(length + Self.storedElementCost + attributes.count * Self.storedAttributeCost)
        guard open.count < maxDepth else { throw .tooDeep(maxDepth) }
        let namespace = attributes["xmlns"] ?? open.last?.namespace ?? streamNamespace
        let element = XMPPElement(name: name, namespace: namespace, attributes: attributes)
        if selfClosing {
            return complete(element)
        }
        open.append(element)
        return nil
    }

    /// What one parsed element costs in memory beyond its text (the struct, its arrays and
    /// dictionary), and what each attribute adds: charged against `maxStanzaBytes`.
    static let storedElementCost = 160
    static let storedAttributeCost = 96

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Attaches a finished element to its parent, or returns it as a stanza.
    private mutating func complete(_ element: XMPPElement) -> XMLStreamEvent? {
        guard !open.isEmpty else { return .stanza(element) }
        open[open.count - 1].children.append(element)
        return nil
    }
}

/// What the parser produced.
package enum XMLStreamEvent: Hashable, Sendable {
    /// The stream header: its qualified name and attributes.
    case streamOpened(name: String, attributes: [String: String])
    /// One complete top-level element.
    case stanza(XMPPElement)
    /// The client's `</stream:stream>`.
    case streamClosed
}

/// Why the parser gave up; each maps to an RFC 6120 stream error.
package enum XMLStreamViolation: Error, Hashable, Sendable, CustomStringConvertible {
    /// Not well-formed XML; what was wrong.
    case notWellFormed(String)
    /// XML that RFC 6120 §11.1 forbids (comments, PIs, DTDs, other entities).
    case restrictedXML(String)
    /// Over a size bound.
    case tooLarge(String)
    /// Nested deeper than the bound.
    case tooDeep(Int)

    /// The RFC 6120 §4.9.3 condition to send.
    package var condition: String {
        switch self {
        case .notWellFormed: return "not-well-formed"
        case .restrictedXML: return "restricted-xml"
        case .tooLarge, .tooDeep: return "policy-violation"
        }
    }

    /// Why, in words.
    package var explanation: String {
        switch self {
        case .notWellFormed(let text), .restrictedXML(let text), .tooLarge(let text): return text
        case .tooDeep(let limit): return "elements nested deeper than \(limit)"
        }
    }
}

extension XMLStreamViolation {
    /// `<condition>: <explanation>`.
    package var description: String {
        "\(condition): \(explanation)"
    }
}

extension ArraySlice<UInt8> {
    func trimmingTrailingWhitespace() -> ArraySlice<UInt8> {
        var slice = self
        while let last = slice.last, last == 0x20 || last == 0x09 || last == 0x0A || last == 0x0D {
            slice = slice.dropLast()
        }
        return slice
    }
}
