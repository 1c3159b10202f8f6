import GreylistTestSupport
import Testing
@testable import Greylist

@Suite struct IPNetworkTests {
    @Test("parses CIDR text and clears host bits", arguments: [
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("203.0.113.77/24", "203.0.113.0/24"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("192.0.2.7", "192.0.2.7/32"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db8:aaaa:bbbb:cccc::1/64", "2001:db8:aaaa:bbbb::/64"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::/0", "::/0"),
        ("2001:db8::1", "2001:db8::1/128"),
    ])
    func parses(input: String, canonical: String) throws {
        #expect(try IPNetwork(input).description == canonical)
    }

    @Test("refuses bad CIDR text, quoting it", arguments: [
        "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/x", "/24", "10.0.0/8",
        "10.0.0.0/8/8", "::ffff:10.0.0.0/64", "10.0.0.0/ 8", "10.0.0.0/0008",
    ])
    func refuses(input: String) {
        do {
            _ = try IPNetwork(input)
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.description.contains("\"\(input)\""))
        }
    }

    @Test("contains addresses inside the block only, per family")
    func containment() {
        let network = IPNetwork.cidr("198.51.100.0/24")
        #expect(network.contains(.literal("198.51.100.0")))
        #expect(network.contains(.literal("198.51.100.255")))
        #expect(!network.contains(.literal("198.51.101.0")))
        #expect(network.contains(.literal("::ffff:198.51.100.9")))
        #expect(IPNetwork.cidr("0.0.0.0/0").contains(.literal("8.8.8.8")))
        #expect(!IPNetwork.cidr("0.0.0.0/0").contains(.literal("2001:db8::1")))
        #expect(!IPNetwork.cidr("::/0").contains(.literal("8.8.8.8")))
        let ipv6 = IPNetwork.cidr("2001:db8:1:2::/64")
        #expect(ipv6.contains(.literal("2001:db8:1:2:ffff:ffff:ffff:ffff")))
        #expect(!ipv6.contains(.literal("2001:db8:1:3::")))
        #expect(IPNetwork.cidr("10.0.0.0/8").contains(IPNetwork.cidr("10.20.0.0/16")))
        #expect(!IPNetwork.cidr("10.20.0.0/16").contains(IPNetwork.cidr("10.0.0.0/8")))
    }

    @Test("builds a network from an address and a checked prefix length")
    func fromAddress() throws {
        #expect(try IPNetwork(address: .literal("192.0.2.200"), prefixLength: 25).description == "192.0.2.128/25")
        #expect(throws: GreylistError.self) { try IPNetwork(address: .literal("192.0.2.200"), prefixLength: 33) }
        #expect(throws: GreylistError.self) { try IPNetwork(address: .literal("::1"), prefixLength: -1) }
    }
}
