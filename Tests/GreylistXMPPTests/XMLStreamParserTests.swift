import Testing
@testable import GreylistXMPP

@Suite struct XMLStreamParserTests {
    static let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

    func parse(_ text: String, maxStanzaBytes: Int = 4_096, maxDepth: Int = 8) throws(XMLStreamViolation) -> [XMLStreamEvent] {
        var parser = XMLStreamParser(maxStanzaBytes: maxStanzaBytes, maxDepth: maxDepth)
        return try parser.feed(Array(text.utf8))
    }

    @Test("reads the header, stanzas with namespaces, attributes and entities, and the close")
    func readsAStream() throws {
        let events = try parse(Self.header + " <iq type=\"get\" id='a&amp;b'><ping xmlns='urn:xmpp:ping'/></iq>\n<message><body>1 &lt; 2 &#x263A;</body></message></stream:stream>")
        #expect(events.count == 4)
        guard case .streamOpened(let name, let attributes) = events[0],
              case .stanza(let iq) = events[1], case .stanza(let message) = events[2] else {
            Issue.record("unexpected events \(events)")
            return
        }
        #expect(name == "stream:stream")
        #expect(attributes["xmlns:stream"] == "http://etherx.jabber.org/streams")
        #expect(iq.attributes == ["type": "get", "id": "a&b"])
        #expect(iq.namespace == "jabber:client")
        #expect(iq.child("ping", namespace: "urn:xmpp:ping") != nil)
        #expect(message.children.first?.text == "1 < 2 ☺")
        #expect(events[3] == .streamClosed)
    }

    @Test("gives the same events when the input arrives one byte at a time")
    func byteAtATime() throws {
        let text = Self.header + "<iq type='get' id='x'><query xmlns='jabber:iq:roster' note='a>b'/></iq></stream:stream>"
        var parser = XMLStreamParser(maxStanzaBytes: 4_096, maxDepth: 8)
        var events: [XMLStreamEvent] = []
        for byte in text.utf8 { events += try parser.feed([byte]) }
        #expect(events == (try parse(text)))
        #expect(events.count == 3)
    }

    @Test("refuses malformed and restricted XML with the fitting condition", arguments: [
        ("<a></b>", "not-well-formed"),
        ("<!-- hello -->", "restricted-xml"),
        ("<!DOCTYPE x>", "restricted-xml"),
        ("<?php echo 1 ?>", "restricted-xml"),
        ("<a>&foo;</a>", "restricted-xml"),
        ("<a>&#0;</a>", "not-well-formed"),
        ("<a b='1' b='2'/>", "not-well-formed"),
        ("<a b=1/>", "not-well-formed"),
        ("<1a/>", "not-well-formed"),
        ("text", "not-well-formed"),
        ("<a>\u{01}</a>", "not-well-formed"),
    ])
    func refuses(body: String, condition: String) {
        do {
            _ = try parse(Self.header + body + " ")
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.condition == condition)
        }
    }

    @Test("refuses invalid UTF-8")
    func refusesInvalidUTF8() {
        var parser = XMLStreamParser(maxStanzaBytes: 4_096, maxDepth: 8)
        #expect(throws: XMLStreamViolation.self) {
            _ = try parser.feed(Array(Self.header.utf8) + Array("<a>".utf8) + [0xC3, 0x28] + Array("</a>".utf8))
        }
    }

    @Test("refuses a stanza over the size limit, even one never closed, and nesting over the depth limit")
    func bounds() {
        #expect(throws: XMLStreamViolation.self) { try parse(Self.header + "<message><body>" + String(repeating: "x", count: 5_000) + "</body></message>") }
        #expect(throws: XMLStreamViolation.self) { try parse(Self.header + "<message><body>" + String(repeating: "x", count: 5_000)) }
        #expect(throws: XMLStreamViolation.self) { try parse(Self.header + "<a " + String(repeating: "b", count: 5_000)) }
        #expect(throws: XMLStreamViolation.tooDeep(8)) { try parse(Self.header + String(repeating: "<a>", count: 9)) }
        #expect((try? parse(Self.header + String(repeating: "<a>", count: 8) + String(repeating: "</a>", count: 8))) != nil)
    }

    @Test("a large stream of small stanzas is fine: the limit is per stanza")
    func manySmallStanzas() throws {
        let stanza = "<presence/>"
        let events = try parse(Self.header + String(repeating: stanza, count: 2_000), maxStanzaBytes: 1_024)
        #expect(events.count == 2_001)
    }
}
