import Testing
@_spi(Internals) import GreylistRedis

/// The RESP reader on bytes alone: every type, any split of the bytes, and hostile input.
@Suite struct RESPParserTests {
    static let sample = Array("+OK\r\n-ERR no such key\r\n:-42\r\n$5\r\nhe\r\no\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n*3\r\n:1\r\n*2\r\n$1\r\na\r\n+b\r\n$-1\r\n".utf8)
    static let expected: [RESPValue] = [
        .simpleString("OK"), .error("ERR no such key"), .integer(-42), .bulkString(Array("he\r\no".utf8)), .bulkString([]),
        .bulkString(nil), .array(nil), .array([]), .array([.integer(1), .array([.bulkString([UInt8(ascii: "a")]), .simpleString("b")]), .bulkString(nil)]),
    ]

    func parseAll(_ chunks: [ArraySlice<UInt8>], limits: RESPParser.Limits = .init()) throws(RESPError) -> [RESPValue] {
        var parser = RESPParser(limits: limits)
        var values: [RESPValue] = []
        for chunk in chunks {
            parser.append(chunk)
            while let value = try parser.next() { values.append(value) }
        }
        return values
    }

    @Test("reads every RESP2 type, nested arrays and binary bulk strings included")
    func everyType() throws {
        #expect(try parseAll([Self.sample[...]]) == Self.expected)
    }

    @Test("the same values whatever the split: at every byte boundary, and a byte at a time")
    func anySplit() throws {
        for cut in 0...Self.sample.count {
            #expect(try parseAll([Self.sample[..<cut], Self.sample[cut...]]) == Self.expected, "cut at \(cut)")
        }
        #expect(try parseAll(Self.sample.indices.map { Self.sample[$0...$0] }) == Self.expected)
    }

    @Test("waits for a whole value: nothing is returned from a partial one")
    func partial() throws {
        var parser = RESPParser()
        parser.append(Array("*2\r\n$3\r\nfo".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array("o\r\n".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array(":7\r\n".utf8))
        #expect(try parser.next() == .array([.bulkString(Array("foo".utf8)), .integer(7)]))
        #expect(parser.bufferedBytes == 0)
    }

    @Test("hostile or broken replies are errors that name the value, and the parser stays failed", arguments: [
        ("!oops\r\n", "type byte 0x21"),
        (":12a\r\n", "integer \"12a\""),
        (":99999999999999999999\r\n", "integer \"99999999999999999999\""),
        (":9223372036854775808\r\n", "out of range"),
        ("$-2\r\n", "bulk string length -2"),
        ("$600000000\r\n", "bulk string of 600000000 bytes, over Redis's own maximum of 536870912"),
        ("$20\r\n" + String(repeating: "x", count: 20) + "ab", "bulk string of 20 bytes not followed by CR LF"),
        ("$3\r\nabcd\r\n", "not followed by CR LF"),
        ("*-5\r\n", "array length -5"),
        ("*2000000\r\n", "array of 2000000 elements, over the limit of 1048576"),
        ("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "nested deeper than 8"),
        ("+a\rb\r\n", "CR not followed by LF"),
        ("+\u{FF}\r\n", "a status line that is not UTF-8"),
        // Found by FuzzRESP in its first seconds: an empty line used to trap on a reversed range.
        ("*2\r\n*2\r\n\r\n0Int", "an empty line"),
    ])
    func hostile(input: String, fragment: String) {
        var bytes = Array(input.utf8)
        if input == "+\u{FF}\r\n" { bytes = [UInt8(ascii: "+"), 0xFF, 0x0D, 0x0A] }
        var parser = RESPParser()
        parser.append(bytes)
        do {
            while try parser.next() != nil {}
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.description.contains(fragment), "\(error)")
            parser.append(Array("+OK\r\n".utf8))
            #expect(throws: RESPError.self) { try parser.next() }
        }
    }

    @Test("a line without an end is bounded: past the limit it is an error, not a growing buffer")
    func endlessLine() {
        var parser = RESPParser(limits: .init(maxLineBytes: 1_024))
        parser.append(Array("+".utf8))
        var failed = false
        for _ in 0..<100 {
            parser.append([UInt8](repeating: UInt8(ascii: "a"), count: 100))
            do {
                _ = try parser.next()
            } catch {
                #expect(error.description.contains("longer than 1024 bytes"))
                failed = true
                break
            }
        }
        #expect(failed)
    }

    @Test("a bulk string over the limit is skipped, never held, at any split; the stream stays in step")
    func oversizedIsSkipped() throws {
        let limits = RESPParser.Limits(maxBulkBytes: 16)
        let long = String(repeating: "k", count: 40)
        let bytes = Array("*3\r\n$4\r\nkeys\r\n$40\r\n\(long)\r\n$2\r\nok\r\n:5\r\n".utf8)
        let expected: [RESPValue] = [.array([.bulkString(Array("keys".utf8)), .skippedBulkString(byteCount: 40), .bulkString(Array("ok".utf8))]),
                                     .integer(5)]
        for cut in 0...bytes.count {
            #expect(try parseAll([bytes[..<cut], bytes[cut...]], limits: limits) == expected, "cut at \(cut)")
        }
        #expect(try parseAll(bytes.indices.map { bytes[$0...$0] }, limits: limits) == expected)

        // 8 MiB in 64 KiB reads: what the parser holds stays at one read, not the string.
        var parser = RESPParser(limits: .init(maxBulkBytes: 1 << 20))
        parser.append(Array("$8388608\r\n".utf8))
        #expect(try parser.next() == nil)
        let read = [UInt8](repeating: UInt8(ascii: "z"), count: 65_536)
        for _ in 0..<128 {
            parser.append(read)
            #expect(try parser.next() == nil)
            #expect(parser.bufferedBytes == 0)
        }
        parser.append(Array("\r\n+PONG\r\n".utf8))
        #expect(try parser.next() == .skippedBulkString(byteCount: 8 << 20))
        #expect(try parser.next() == .simpleString("PONG"))
        #expect(RESPValue.skippedBulkString(byteCount: 40).text == nil)
    }

    @Test("a reply holding more than maxReplyBytes is an error once the budget is spent, not after it is all held")
    func replyBudget() throws {
        var limits = RESPParser.Limits(maxBulkBytes: 4_096, maxArrayElements: 65_536)
        limits.maxReplyBytes = 1 << 20
        var parser = RESPParser(limits: limits)
        parser.append(Array("*65536\r\n".utf8))
        let element = Array("$4000\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 4_000) + Array("\r\n".utf8)
        var thrown: RESPError?
        var sent = 0
        while thrown == nil && sent < 65_536 {
            parser.append(element)
            sent += 1
            do { _ = try parser.next() } catch { thrown = error }
        }
        #expect(thrown?.description.contains("a reply over 1048576 bytes") == true)
        #expect(sent < 300, "stopped after about 1 MiB, not 256 MiB")
        // The budget is per reply: replies that each fit go through one after another.
        var fitting = RESPParser(limits: limits)
        for _ in 0..<600 { fitting.append(Array("*2\r\n".utf8) + element + element) }
        for _ in 0..<600 { #expect(try fitting.next() != nil) }
    }

    @Test("a 20,000-element array arriving in 7-byte pieces comes out whole")
    func resumable() throws {
        var text = "*20000\r\n"
        for index in 0..<20_000 { text += ":\(index)\r\n" }
        let bytes = Array(text.utf8)
        var parser = RESPParser()
        var value: RESPValue?
        for start in stride(from: 0, to: bytes.count, by: 7) {
            parser.append(bytes[start..<min(start + 7, bytes.count)])
            if let next = try parser.next() { value = next }
        }
        guard case .array(let elements?) = value else {
            Issue.record("no array")
            return
        }
        #expect(elements.count == 20_000 && elements.last == .integer(19_999))
    }

    @Test("commands are arrays of bulk strings, binary-safe")
    func encoding() {
        #expect(RESPEncoder.command(["SET", "k", RESPArgument(bytes: [0, 13, 10]), "PXAT", RESPArgument(1_700_000_000_000)])
            == Array("*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\u{0}\r\n\r\n$4\r\nPXAT\r\n$13\r\n1700000000000\r\n".utf8))
    }
}
