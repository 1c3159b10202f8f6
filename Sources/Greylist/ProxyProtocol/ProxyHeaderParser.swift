/// Reads a PROXY protocol header (version 1 or 2) from the first bytes of a connection:
/// sans-IO, bytes in as they arrive, a verdict out. Bounded: version 1 must end within its 107
/// bytes, version 2 within ``maximumLength`` (TLVs after the addresses are skipped); anything
/// else fails with an error that names the problem, and the parser stays failed.
///
/// ```swift
/// var parser = ProxyHeaderParser()
/// switch parser.receive(bytes) {
/// case .needMore: break                                   // read again (within a deadline)
/// case .header(let header, let rest): serve(header, rest)  // `rest` is the client's first data
/// case .failed(let error): close(error)
/// }
/// ```
public struct ProxyHeaderParser: Sendable {
    /// The parser's verdict so far.
    public enum Outcome: Hashable, Sendable {
        /// The header is not whole yet.
        case needMore
        /// The header, and the bytes that followed it (the client's own data, in order).
        case header(ProxyHeader, rest: [UInt8])
        /// Not a usable header; close the connection.
        case failed(ProxyProtocolError)
    }

    /// Version 2's fixed signature.
    public static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// Version 1's prefix.
    public static let textPrefix = Array("PROXY ".utf8)
    /// Version 1's longest line, CRLF included (the specification's bound).
    public static let textMaximumLength = 107

    /// The longest version 2 header taken (16 bytes, addresses and TLVs); at least 232, what the
    /// specification asks a receiver to accept.
    public let maximumLength: Int
    private var buffer: [UInt8] = []
    private var failure: ProxyProtocolError?

    /// Creates a parser.
    ///
    /// - Parameter maximumLength: The longest version 2 header taken; raised to 232 if lower.
    public init(maximumLength: Int = 1_024) {
        self.maximumLength = max(232, maximumLength)
    }

    /// Takes the next bytes of the connection.
    ///
    /// - Parameter bytes: What was read.
    /// - Returns: The verdict so far.
    public mutating func receive(_ bytes: some Collection<UInt8>) -> Outcome {
        if let failure { return .failed(failure) }
        buffer.append(contentsOf: bytes)
        let outcome = parse()
        if case .failed(let error) = outcome { failure = error }
        return outcome
    }

    /// Whether a connection's first bytes begin like a PROXY header: `true`, `false`, or `nil`
    /// while too few have arrived to tell (a server that does not expect one refuses it).
    ///
    /// - Parameter prefix: The first bytes read.
    public static func startsLikeHeader(_ prefix: some Collection<UInt8>) -> Bool? {
        for candidate in [textPrefix, signature] where prefix.prefix(candidate.count).elementsEqual(candidate.prefix(prefix.count)) {
            return prefix.count >= candidate.count ? true : nil
        }
        return false
    }

    private func parse() -> Outcome {
        guard let first = buffer.first else { return .needMore }
        switch first {
        case UInt8(ascii: "P"): return parseText()
        case 0x0D: return parseBinary()
        default: return .failed(.malformed("expected \"PROXY \" or the version 2 signature, got \(Self.shown(buffer.prefix(16)))"))
        }
    }

    // MARK: - Version 1: `PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n`

    private func parseText() -> Outcome {
        let prefixLength = min(buffer.count, Self.textPrefix.count)
        guard buffer.prefix(prefixLength).elementsEqual(Self.textPrefix.prefix(prefixLength)) else {
            return .failed(.malformed("expected \"PROXY \", got \(Self.shown(buffer.prefix(Self.textPrefix.count)))"))
        }
        let window = buffer.prefix(Self.textMaximumLength)
        guard let end = Self.lineEnd(in: window) else {
            if buffer.count >= Self.textMaximumLength { return .failed(.tooLong(buffer.count, limit: Self.textMaximumLength)) }
            return .needMore
        }
        let line = buffer[Self.textPrefix.count..<end]
        let rest = Array(buffer[(end + 2)...])
        let fields = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard let proto = fields.first else { return .failed(.malformed("an empty version 1 line")) }
        if proto.elementsEqual("UNKNOWN".utf8) {
            return .header(ProxyHeader(version: 1, command: .local), rest: rest)
        }
        let isIPv4: Bool
        if proto.elementsEqual("TCP4".utf8) {
            isIPv4 = true
        } else if proto.elementsEqual("TCP6".utf8) {
            isIPv4 = false
        } else {
            return .failed(.malformed("unknown protocol \(Self.shown(proto)) (TCP4, TCP6 or UNKNOWN)"))
        }
        guard fields.count == 5 else {
            return .failed(.malformed("expected 4 fields after \(isIPv4 ? "TCP4" : "TCP6"), got \(fields.count - 1) in \(Self.shown(line))"))
        }
        guard let source = Self.address(fields[1], isIPv4: isIPv4), let destination = Self.address(fields[2], isIPv4: isIPv4) else {
            return .failed(.malformed("not \(isIPv4 ? "IPv4" : "IPv6") addresses: \(Self.shown(fields[1])) \(Self.shown(fields[2]))"))
        }
        guard let sourcePort = Self.port(fields[3]), let destinationPort = Self.port(fields[4]) else {
            return .failed(.malformed("not ports: \(Self.shown(fields[3])) \(Self.shown(fields[4]))"))
        }
        return .header(ProxyHeader(version: 1, command: .proxy(source: source, sourcePort: sourcePort, destination: destination,
                                                               destinationPort: destinationPort)), rest: rest)
    }

    private static func lineEnd(in bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            if bytes[index] == 0x0D && bytes[index + 1] == 0x0A { return index }
            index += 1
        }
        return nil
    }

    private static func address(_ field: ArraySlice<UInt8>, isIPv4: Bool) -> IPAddress? {
        // A TCP6 field is written in IPv6 form; HAProxy's dual-stack binds (`:::port v4v6`)
        // send IPv4 clients as `::ffff:a.b.c.d`, which `IPAddress` folds to the IPv4 address.
        let isWrittenAsIPv6 = field.contains(UInt8(ascii: ":"))
        guard (2...45).contains(field.count), isWrittenAsIPv6 != isIPv4,
              let address = try? IPAddress(String(decoding: field, as: UTF8.self)) else { return nil }
        return address
    }

    private static func port(_ field: ArraySlice<UInt8>) -> UInt16? {
        guard (1...5).contains(field.count), field.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              field.count == 1 || field.first != UInt8(ascii: "0") else { return nil }
        return UInt16(String(decoding: field, as: UTF8.self))
    }

    // MARK: - Version 2: signature, version and command, family and transport, length, addresses, TLVs

    private func parseBinary() -> Outcome {
        let prefixLength = min(buffer.count, Self.signature.count)
        guard buffer.prefix(prefixLength).elementsEqual(Self.signature.prefix(prefixLength)) else {
            return .failed(.malformed("not the version 2 signature: \(Self.shown(buffer.prefix(Self.signature.count)))"))
        }
        guard buffer.count >= 16 else { return .needMore }
        let versionAndCommand = buffer[12]
        guard versionAndCommand >> 4 == 2 else { return .failed(.malformed("version \(versionAndCommand >> 4) (only 2 is binary)")) }
        let length = Int(buffer[14]) << 8 | Int(buffer[15])
        guard 16 + length <= maximumLength else { return .failed(.tooLong(16 + length, limit: maximumLength)) }
        guard buffer.count >= 16 + length else { return .needMore }
        let rest = Array(buffer[(16 + length)...])
        switch versionAndCommand & 0x0F {
        case 0:
            return .header(ProxyHeader(version: 2, command: .local), rest: rest)
        case 1:
            break
        default:
            return .failed(.malformed("command \(versionAndCommand & 0x0F) (0 LOCAL or 1 PROXY)"))
        }
        let family = buffer[13] >> 4
        let transport = buffer[13] & 0x0F
        guard transport <= 1 else { return .failed(.malformed("transport \(transport) (only a stream is served)")) }
        let block = buffer[16..<(16 + length)]
        switch family {
        case 1:
            guard length >= 12 else { return .failed(.malformed("\(length) address bytes for IPv4 (12 needed)")) }
            let base = block.startIndex
            let source = IPAddress(bits: UInt128(Self.integer(block, at: base, count: 4)) | 0xFFFF << 32)
            let destination = IPAddress(bits: UInt128(Self.integer(block, at: base + 4, count: 4)) | 0xFFFF << 32)
            return proxied(2, source, destination, block, portsAt: base + 8, rest: rest)
        case 2:
            guard length >= 36 else { return .failed(.malformed("\(length) address bytes for IPv6 (36 needed)")) }
            let base = block.startIndex
            let source = IPAddress(bits: Self.integer(block, at: base, count: 16))
            let destination = IPAddress(bits: Self.integer(block, at: base + 16, count: 16))
            return proxied(2, source, destination, block, portsAt: base + 32, rest: rest)
        case 0, 3:
            // Unspecified or a Unix socket: no client address to act on.
            return .header(ProxyHeader(version: 2, command: .local), rest: rest)
        default:
            return .failed(.malformed("address family \(family) (0 to 3)"))
        }
    }

    private func proxied(_ version: Int, _ source: IPAddress, _ destination: IPAddress, _ block: ArraySlice<UInt8>, portsAt index: Int,
                         rest: [UInt8]) -> Outcome {
        let sourcePort = UInt16(Self.integer(block, at: index, count: 2))
        let destinationPort = UInt16(Self.integer(block, at: index + 2, count: 2))
        return .header(ProxyHeader(version: version, command: .proxy(source: source, sourcePort: sourcePort, destination: destination,
                                                                     destinationPort: destinationPort)), rest: rest)
    }

    private static func integer(_ bytes: ArraySlice<UInt8>, at index: Int, count: Int) -> UInt128 {
        var value: UInt128 = 0
        for offset in 0..<count { value = value << 8 | UInt128(bytes[index + offset]) }
        return value
    }

    /// Bytes as an operator can read them: printable ASCII as is, the rest as `\xNN`.
    private static func shown(_ bytes: some Collection<UInt8>) -> String {
        var text = "\""
        for byte in bytes.prefix(32) {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return text + (bytes.count > 32 ? "…\"" : "\"")
    }
}
