import GreylistTestSupport
import Foundation
import Testing
@testable import Greylist

/// HAProxy's PROXY protocol, versions 1 and 2, read a byte at a time and whole.
struct ProxyHeaderParserTests {
    static func binary(command: UInt8 = 0x21, family: UInt8 = 0x11, addresses: [UInt8], tlvs: [UInt8] = []) -> [UInt8] {
        let body = addresses + tlvs
        return ProxyHeaderParser.signature + [command, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    static let ipv4Block: [UInt8] = [192, 0, 2, 7, 198, 51, 100, 1, 0xDC, 0x04, 0x14, 0x66]  // ports 56324 → 5222

    /// Feeds `bytes` one at a time: every prefix but the last needs more.
    static func fedByteByByte(_ bytes: [UInt8], parser: inout ProxyHeaderParser) -> ProxyHeaderParser.Outcome {
        for byte in bytes.dropLast() {
            let outcome = parser.receive([byte])
            guard outcome == .needMore else { return outcome }
        }
        return parser.receive(bytes.suffix(1))
    }

    @Test func versionOneAddressesAndTheClientsFirstBytes() {
        let line = Array("PROXY TCP4 192.0.2.7 198.51.100.1 56324 5222\r\n<stream".utf8)
        var whole = ProxyHeaderParser()
        let expected = ProxyHeaderParser.Outcome.header(
            ProxyHeader(version: 1, command: .proxy(source: .literal("192.0.2.7"), sourcePort: 56_324, destination: .literal("198.51.100.1"),
                                                   destinationPort: 5_222)), rest: Array("<stream".utf8))
        #expect(whole.receive(line) == expected)
        var split = ProxyHeaderParser()
        let header = Array(line.prefix(line.count - 7))
        #expect(Self.fedByteByByte(header, parser: &split) == .header(
            ProxyHeader(version: 1, command: .proxy(source: .literal("192.0.2.7"), sourcePort: 56_324, destination: .literal("198.51.100.1"),
                                                   destinationPort: 5_222)), rest: []))
        var six = ProxyHeaderParser()
        let outcome = six.receive(Array("PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n".utf8))
        guard case .header(let parsed, _) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(parsed.clientAddress == .literal("2001:db8::7"))
        // HAProxy on a dual-stack bind (`:::5222 v4v6`) names IPv4 clients in IPv6 form.
        var mapped = ProxyHeaderParser()
        guard case .header(let dualStack, _) = mapped.receive(Array("PROXY TCP6 ::ffff:192.0.2.9 ::ffff:198.51.100.1 40000 5222\r\n".utf8)) else {
            Issue.record("a TCP6 header with IPv4-mapped addresses is refused")
            return
        }
        #expect(dualStack.clientAddress == .literal("192.0.2.9"))
        #expect(dualStack.clientAddress?.isIPv4 == true)
        var unknown = ProxyHeaderParser()
        #expect(unknown.receive(Array("PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n".utf8)) == .header(ProxyHeader(version: 1, command: .local), rest: []))
    }

    @Test(arguments: [
        ("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n", "expected 4 fields"),
        ("PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n", "not IPv4 addresses"),
        ("PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n", "not IPv6 addresses"),
        ("PROXY TCP4 ::ffff:192.0.2.7 198.51.100.1 1 2\r\n", "not IPv4 addresses"),
        ("PROXY TCP4 192.0.2.7 198.51.100.1 65536 1\r\n", "not ports"),
        ("PROXY TCP4 192.0.2.7 198.51.100.1 01 1\r\n", "not ports"),
        ("PROXY TCP4 192.0.2.7  198.51.100.1 1 1\r\n", "expected 4 fields"),
        ("PROXY UDP4 192.0.2.7 198.51.100.1 1 1\r\n", "unknown protocol \"UDP4\""),
        ("PROXI TCP4", "expected \"PROXY \", got \"PROXI \""),
        ("<?xml version='1.0'?>", "expected \"PROXY \" or the version 2 signature, got \"<?xml"),
        ("PROXY TCP4 192.0.2.7 198.51.100.1 1 1\n\r\n", "not ports"),
    ])
    func malformedVersionOneIsNamed(_ text: String, _ named: String) {
        var parser = ProxyHeaderParser()
        let outcome = parser.receive(Array(text.utf8))
        guard case .failed(let error) = outcome else {
            Issue.record("accepted \(text.debugDescription): \(outcome)")
            return
        }
        #expect(error.description.contains(named), "\(error)")
        // A failed parser stays failed, whatever comes next.
        #expect(parser.receive(Array("PROXY UNKNOWN\r\n".utf8)) == .failed(error))
    }

    @Test func versionOneIsBoundedAt107Bytes() {
        var parser = ProxyHeaderParser()
        let outcome = parser.receive(Array("PROXY UNKNOWN ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 200))
        #expect(outcome == .failed(.tooLong(214, limit: 107)))
        var exact = ProxyHeaderParser()
        let longest = Array("PROXY UNKNOWN ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 91) + [0x0D, 0x0A]
        #expect(longest.count == 107)
        #expect(exact.receive(longest) == .header(ProxyHeader(version: 1, command: .local), rest: []))
    }

    @Test func versionTwoAddressesTLVsAndRest() {
        let header = Self.binary(addresses: Self.ipv4Block, tlvs: [0x04, 0x00, 0x02, 0xAB, 0xCD])
        let proxied = ProxyHeader(version: 2, command: .proxy(source: .literal("192.0.2.7"), sourcePort: 56_324,
                                                             destination: .literal("198.51.100.1"), destinationPort: 5_222))
        var parser = ProxyHeaderParser()
        #expect(Self.fedByteByByte(header, parser: &parser) == .header(proxied, rest: []))
        var whole = ProxyHeaderParser()
        #expect(whole.receive(header + [0x3C]) == .header(proxied, rest: [0x3C]))
        var six = ProxyHeaderParser()
        let ipv6: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [7] + [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11)
            + [1] + [0, 80, 0, 81]
        guard case .header(let parsed, _) = six.receive(Self.binary(family: 0x21, addresses: ipv6)) else {
            Issue.record("IPv6 not read")
            return
        }
        #expect(parsed.command == .proxy(source: .literal("2001:db8::7"), sourcePort: 80, destination: .literal("2001:db8::1"), destinationPort: 81))
        var local = ProxyHeaderParser()
        #expect(local.receive(Self.binary(command: 0x20, family: 0x00, addresses: [])) == .header(ProxyHeader(version: 2, command: .local), rest: []))
        var unix = ProxyHeaderParser()
        #expect(unix.receive(Self.binary(family: 0x31, addresses: [UInt8](repeating: 0, count: 216))) == .header(ProxyHeader(version: 2, command: .local), rest: []))
    }

    @Test(arguments: [
        (binary(command: 0x11, addresses: ipv4Block), "version 1 (only 2 is binary)"),
        (binary(command: 0x22, addresses: ipv4Block), "command 2"),
        (binary(family: 0x12, addresses: ipv4Block), "transport 2"),
        (binary(family: 0x41, addresses: ipv4Block), "address family 4"),
        (binary(addresses: Array(ipv4Block.prefix(11))), "11 address bytes for IPv4"),
        (binary(family: 0x21, addresses: ipv4Block), "12 address bytes for IPv6"),
        (binary(addresses: ipv4Block, tlvs: [UInt8](repeating: 0, count: 2_000)), "over the limit of 1024"),
        (Array(ProxyHeaderParser.signature.prefix(11)) + [0x0B], "not the version 2 signature"),
    ])
    func malformedVersionTwoIsNamed(_ bytes: [UInt8], _ named: String) {
        var parser = ProxyHeaderParser()
        let outcome = parser.receive(bytes)
        guard case .failed(let error) = outcome else {
            Issue.record("accepted: \(outcome)")
            return
        }
        #expect(error.description.contains(named), "\(error)")
    }

    @Test func aServerThatExpectsNoHeaderRecognisesOne() {
        #expect(ProxyHeaderParser.startsLikeHeader(Array("<?xml".utf8)) == false)
        #expect(ProxyHeaderParser.startsLikeHeader(Array("PRO".utf8)) == nil)
        #expect(ProxyHeaderParser.startsLikeHeader(Array("PROXY ".utf8)) == true)
        #expect(ProxyHeaderParser.startsLikeHeader(Array("PROXY TCP4".utf8)) == true)
        #expect(ProxyHeaderParser.startsLikeHeader(Array("PROXIMA".utf8)) == false)
        #expect(ProxyHeaderParser.startsLikeHeader(ProxyHeaderParser.signature.prefix(5)) == nil)
        #expect(ProxyHeaderParser.startsLikeHeader(ProxyHeaderParser.signature) == true)
        #expect(ProxyHeaderParser.startsLikeHeader([0x0D, 0x0A, 0x20]) == false)
        #expect(ProxyHeaderParser.startsLikeHeader([UInt8]()) == nil)
        let policy = ProxyProtocolPolicy(trustedProxies: [.cidr("10.0.0.0/8")])
        #expect(policy.expectsHeader(from: .literal("10.1.2.3")))
        #expect(!policy.expectsHeader(from: .literal("192.0.2.7")))
    }
}
