import GreylistTestSupport
import Foundation
import Glibc
import Testing
@testable import Greylist

@Suite struct IPAddressTests {
    @Test("parses and formats canonically", arguments: [
        ("192.0.2.7", "192.0.2.7"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("::FFFF:c000:0207", "192.0.2.7"),
        ("64:ff9b::192.0.2.33", "192.0.2.33"),  // NAT64 well-known prefix: keyed by the IPv4 it embeds
    ])
    func parsesAndFormats(input: String, canonical: String) throws {
        #expect(try IPAddress(input).description == canonical)
    }

    @Test("refuses text that is not an address, quoting it", arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "1..2.3", "a.b.c.d",
        ":::", "1::2::3", "12345::", "2001:db8::1%eth0", "[::1]", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
        "::1.2.3", "1.2.3.4:80", "g::1", ":1::", "1:",
    ])
    func refusesBadText(input: String) {
        #expect(throws: GreylistError.self) { try IPAddress(input) }
        do {
            _ = try IPAddress(input)
        } catch {
            #expect(error.description.contains("\"\(input)\""))
        }
    }

    @Test("folds an IPv4-mapped IPv6 address to the same IPv4 key")
    func foldsMappedAddresses() throws {
        let mapped = try IPAddress("::ffff:203.0.113.9")
        let plain = try IPAddress("203.0.113.9")
        #expect(mapped == plain)
        #expect(mapped.isIPv4)
        #expect(mapped.ipv4 == 0xCB00_7109)
        #expect(try IPAddress("2001:db8::1").ipv4 == nil)
    }

    @Test("reads the peer address from a sockaddr, IPv4 and IPv6, ignoring the port")
    func readsSocketAddresses() throws {
        var ipv4 = sockaddr_in()
        ipv4.sin_family = sa_family_t(AF_INET)
        ipv4.sin_port = UInt16(5222).bigEndian
        ipv4.sin_addr.s_addr = UInt32(0xC000_0207).bigEndian
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: withUnsafeBytes(of: ipv4) { UnsafeRawBufferPointer($0) }) }
        #expect(IPAddress(socketAddress: storage) == .literal("192.0.2.7"))

        var ipv6 = sockaddr_in6()
        ipv6.sin6_family = sa_family_t(AF_INET6)
        ipv6.sin6_port = UInt16(40000).bigEndian
        inet_pton(AF_INET6, "::ffff:198.51.100.4", &ipv6.sin6_addr)
        storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: withUnsafeBytes(of: ipv6) { UnsafeRawBufferPointer($0) }) }
        #expect(IPAddress(socketAddress: storage) == .literal("198.51.100.4"))

        inet_pton(AF_INET6, "2001:db8:85a3::8a2e:370:7334", &ipv6.sin6_addr)
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: withUnsafeBytes(of: ipv6) { UnsafeRawBufferPointer($0) }) }
        #expect(IPAddress(socketAddress: storage) == .literal("2001:db8:85a3::8a2e:370:7334"))

        var unix = sockaddr_storage()
        unix.ss_family = sa_family_t(AF_UNIX)
        #expect(IPAddress(socketAddress: unix) == nil)
    }

    @Test("matches inet_ntop's text for random IPv6 addresses")
    func agreesWithInetNtop() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { bytes in
                for index in bytes.indices {
                    // Many zero groups exercise the "::" choice.
                    bytes[index] = Bool.random(using: &generator) ? 0 : UInt8.random(in: 0...255, using: &generator)
                }
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
            let systemText = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let parsed = try IPAddress(systemText)
            #expect(try IPAddress(parsed.description) == parsed)
            if !parsed.isIPv4 && !systemText.contains(".") {
                #expect(parsed.description == systemText)
            }
        }
    }
}
