import Foundation
import Greylist
import GreylistTestSupport
import Testing
@testable import GreylistDemoServer

/// The demo server behind a real HAProxy speaking the PROXY protocol, and the headers it refuses.
@Suite struct ProxyProtocolTests {
    /// HAProxy connects from here; the demo trusts only this address.
    static let proxyAddress = "127.0.0.3"

    static func fixture() throws -> DemoServerFixture {
        try DemoServerFixture { configuration in
            configuration.server.proxyProtocol = ProxyProtocolPolicy(trustedProxies: [.cidr("\(proxyAddress)/32")],
                                                                     headerTimeout: .milliseconds(300))
        }
    }

    @Test("behind HAProxy (send-proxy-v2 and send-proxy) a ban follows the client's address, never the proxy's, and other clients are served",
          .enabled(if: HAProxyFixture.isAvailable, "haproxy is not installed (.ci/run installs it)"),
          arguments: ["send-proxy-v2", "send-proxy"])
    func banFollowsTheClient(_ keyword: String) async throws {
        let server = try Self.fixture()
        let haproxy = try await HAProxyFixture(backendPort: server.port, sourceAddress: Self.proxyAddress, proxyKeyword: keyword)
        let answer = try await DemoServerFixture.banningLogin(port: haproxy.port, "bad_user_12345", from: "127.0.0.5")
        #expect(answer.contains("<failure"))
        let bans = await server.server.greylist.list()
        #expect(bans.map(\.network) == [.cidr("127.0.0.5/32")])
        #expect(bans.first?.user == "bad_user_12345")
        // The banned client, through the proxy: closed before a byte. Another client: served.
        #expect(try await DemoServerFixture.isRefused(port: haproxy.port, from: "127.0.0.5"))
        #expect(try await DemoServerFixture.isServed(port: haproxy.port, from: "127.0.0.6"))
        #expect(server.server.greylist.shouldAccept(ip: .literal(Self.proxyAddress)))
        #expect(server.server.proxyCounters.statistics["proxyHeadersAccepted"] ?? 0 >= 3)
        #expect(server.server.proxyCounters.statistics["proxyHeadersRefused"] == 0)
        haproxy.stop()
        await server.stop()
    }

    @Test("a header from a peer that is not a trusted proxy is refused; a trusted proxy's connection without one, or too slow, is closed; LOCAL is served")
    func refusedHeaders() async throws {
        let server = try Self.fixture()
        // A client that claims another address.
        let spoof = try server.connect(from: "127.0.0.9")
        spoof.send("PROXY TCP4 192.0.2.1 127.0.0.1 1234 5222\r\n" + DemoServerFixture.header)
        let spoofed = await spoof.readToEnd()
        #expect(spoofed.text.isEmpty && spoofed.closed)
        #expect(server.server.greylist.shouldAccept(ip: .literal("192.0.2.1")))
        // The trusted proxy's address without a header (an XML stream): closed, nothing sent.
        let bare = try server.connect(from: Self.proxyAddress)
        bare.send(DemoServerFixture.header)
        let bareAnswer = await bare.readToEnd()
        #expect(bareAnswer.text.isEmpty && bareAnswer.closed)
        // Nothing at all within the header timeout: closed.
        let silent = try server.connect(from: Self.proxyAddress)
        let silence = await silent.readToEnd()
        #expect(silence.text.isEmpty && silence.closed)
        #expect(server.server.proxyCounters.statistics["proxyHeadersRefused"] == 3)
        // A health check (version 2 LOCAL), then a stream: served as the proxy's own connection.
        let check = try server.connect(from: Self.proxyAddress)
        check.send(String(decoding: ProxyHeaderParser.signature + [0x20, 0x00, 0x00, 0x00], as: UTF8.self) + DemoServerFixture.header)
        #expect(await check.read(until: "</stream:features>").contains("</stream:features>"))
        // A client behind the proxy whose own first bytes are another PROXY header: refused.
        let twice = try server.connect(from: Self.proxyAddress)
        twice.send("PROXY TCP4 127.0.0.7 127.0.0.1 1 5222\r\nPROXY TCP4 192.0.2.1 127.0.0.1 1 5222\r\n")
        let doubled = await twice.readToEnd()
        #expect(doubled.text.isEmpty && doubled.closed)
        #expect(server.server.proxyCounters.statistics["proxyHeadersRefused"] == 4)
        await server.stop()
    }

    @Test("a header that names no client (v1 UNKNOWN, v2 LOCAL) is served, but its failed logins count nowhere: the proxy is never banned",
          arguments: ["PROXY UNKNOWN\r\n", String(decoding: ProxyHeaderParser.signature + [0x20, 0x00, 0x00, 0x00], as: UTF8.self)])
    func headerWithoutClient(_ header: String) async throws {
        let server = try Self.fixture()
        for _ in 0..<3 {
            // HAProxy sends these for clients on a Unix-socket bind: unknown accounts, which ban
            // any address that owns them after two, would otherwise ban the proxy itself.
            let client = try server.connect(from: Self.proxyAddress)
            client.send(header + DemoServerFixture.header)
            await client.read(until: "</stream:features>")
            client.send(DemoServerFixture.plain("admin", "x") + DemoServerFixture.plain("bad_user_12345", "x") + DemoServerFixture.plain("test", "x"))
            let (text, closed) = await client.readToEnd()
            #expect(text.contains("too many failed authentication attempts") && closed, "the stream's own limit still holds")
        }
        #expect(await server.server.greylist.list().isEmpty)
        #expect(server.server.greylist.shouldAccept(ip: .literal(Self.proxyAddress)))
        // A client the proxy does name is still judged.
        let named = try server.connect(from: Self.proxyAddress)
        named.send("PROXY TCP4 127.0.0.7 127.0.0.1 1 5222\r\n" + DemoServerFixture.header)
        await named.read(until: "</stream:features>")
        named.send(DemoServerFixture.plain("bad_user_12345", "x"))
        #expect(await named.read(until: "</failure>").contains("<not-authorized/>"))
        #expect(await server.server.greylist.list().map(\.network) == [.cidr("127.0.0.7/32")])
        await server.stop()
    }
}
