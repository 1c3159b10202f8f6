import GreylistTestSupport
import Foundation
import Greylist
import Testing
@testable import GreylistDemoServer

/// Hostile and broken clients: each gets the RFC 6120 stream error that fits (or a plain close),
/// and the server keeps serving everyone else.
@Suite(.serialized) struct DemoServerHostileTests {
    func makeFixture(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) throws -> DemoServerFixture {
        try DemoServerFixture { configuration in
            configuration.server.maxStanzaBytes = 2_048
            configuration.server.maxDepth = 8
            adjust(&configuration.server)
        }
    }

    /// Sends `input` after (or instead of) the header and returns what the server answered before closing.
    func answer(_ fixture: DemoServerFixture, _ input: String, withHeader: Bool = true) async throws -> (text: String, closed: Bool) {
        let client = try fixture.connect()
        if withHeader {
            client.send(DemoServerFixture.header)
            await client.read(until: "</stream:features>")
        }
        client.send(input)
        return await client.readToEnd()
    }

    @Test("bad input gets the fitting stream error and a close; the server keeps serving", arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, "not-well-formed"),
        ("<stream:stream xmlns='jabber:client' xmlns:stream='urn:not-streams' version='1.0'>", false, "invalid-namespace"),
        ("<root xmlns='jabber:client'>", false, "invalid-namespace"),
        ("<message><body>" + String(repeating: "A", count: 4_000) + "</body></message>", true, "policy-violation"),
        (String(repeating: "<a>", count: 20), true, "policy-violation"),
        ("<!-- comment -->", true, "restricted-xml"),
        ("<message></presence>", true, "not-well-formed"),
        ("<message><body>hi</body></message>", true, "not-authorized"),
    ])
    func badInput(input: String, withHeader: Bool, condition: String) async throws {
        let fixture = try makeFixture()
        let (text, closed) = try await answer(fixture, input, withHeader: withHeader)
        #expect(text.contains("<\(condition) xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"))
        #expect(text.hasSuffix("</stream:stream>"))
        #expect(closed)
        #expect(try await fixture.login().contains("<jid>"))
        await fixture.stop()
    }

    @Test("bad SASL input gets a SASL failure and the stream stays usable", arguments: [
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%%%not-base64%%%</auth>", "incorrect-encoding"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj11c2VyLHI9</auth>", "invalid-mechanism"),
    ])
    func badSASL(input: String, condition: String) async throws {
        let fixture = try makeFixture()
        let client = try await fixture.openStream()
        client.send(input)
        #expect(await client.read(until: "</failure>").contains("<\(condition)/>"))
        client.send(DemoServerFixture.plain("demo", "demo-password"))
        #expect(await client.read(until: "/>").contains("<success"))
        await fixture.stop()
    }

    @Test("no stream header in time: connection-timeout; no login in time: connection-timeout")
    func timeouts() async throws {
        let fixture = try makeFixture {
            $0.headerTimeout = .milliseconds(300)
            $0.authTimeout = .milliseconds(600)
        }
        let silent = try fixture.connect()
        let (silentText, silentClosed) = await silent.readToEnd()
        #expect(silentText.contains("<connection-timeout"))
        #expect(silentClosed)

        let idle = try fixture.connect()
        idle.send(DemoServerFixture.header)
        let (idleText, idleClosed) = await idle.readToEnd()
        #expect(idleText.contains("</stream:features>"))
        #expect(idleText.contains("<connection-timeout"))
        #expect(idleText.contains("no authentication within"))
        #expect(idleClosed)
        await fixture.stop()
    }

    @Test("a slow trickle of bytes does not extend the header deadline (slowloris)")
    func slowloris() async throws {
        let fixture = try makeFixture { $0.headerTimeout = .milliseconds(400) }
        let client = try fixture.connect()
        let header = Array(DemoServerFixture.header)
        var sent = 0
        // One byte, then wait up to 50 ms for the server to act; the header never completes in time.
        while sent < header.count {
            if await client.serverActs(within: 50) { break }
            client.send(String(header[sent]))
            sent += 1
        }
        #expect(sent < header.count)
        let (text, closed) = await client.readToEnd()
        #expect(text.contains("<connection-timeout"))
        #expect(closed)
        await fixture.stop()
    }

    @Test("past the connection cap new connections are closed at once; freed slots are reused")
    func connectionCap() async throws {
        let fixture = try makeFixture { $0.maxConnections = 4 }
        var idle: [TestSocket] = []
        for _ in 0..<4 {
            let client = try await fixture.openStream()
            idle.append(client)
        }
        let extra = try fixture.connect()
        let (text, closed) = await extra.readToEnd()
        #expect(text.isEmpty)
        #expect(closed)
        idle.removeLast().send("</stream:stream>")
        // The server notices the close asynchronously; wait for its count to drop, boundedly.
        for _ in 0..<200 where fixture.server.openConnections >= 4 {
            _ = try? await fixture.connect(from: "127.0.0.99").serverActs(within: 10)
        }
        #expect(try await fixture.login().contains("<jid>"))
        await fixture.stop()
    }

    @Test("thousands of idle connections are bounded by the cap and the server still serves")
    func manyIdleConnections() async throws {
        TestSocket.raiseDescriptorLimit(to: 8_192)
        let fixture = try makeFixture { $0.maxConnections = 200 }
        var clients: [TestSocket] = []
        for index in 0..<2_000 {
            clients.append(try fixture.connect(from: "127.0.1.\(index % 250 + 1)"))
        }
        #expect(fixture.server.openConnections <= 200)
        clients.removeAll()
        for _ in 0..<200 where fixture.server.openConnections > 0 {
            _ = try? await fixture.connect(from: "127.0.0.99").serverActs(within: 10)
        }
        #expect(try await fixture.login().contains("<jid>"))
        await fixture.stop()
    }

    @Test("a reset in the middle of a stanza leaves the server serving")
    func resetMidStanza() async throws {
        let fixture = try makeFixture()
        for _ in 0..<20 {
            let client = try await fixture.openStream()
            client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGRl")
            client.reset()
        }
        // The server notices the resets asynchronously; until it has, they count against the
        // address's cap of streams that have not logged in. Wait for them to go, boundedly.
        for _ in 0..<200 where fixture.server.connectionCounts(from: .literal("127.0.0.1")).open > 0 {
            _ = try? await fixture.connect(from: "127.0.0.99").serverActs(within: 10)
        }
        #expect(fixture.server.connectionCounts(from: .literal("127.0.0.1")) == (0, 0))
        #expect(try await fixture.login().contains("<jid>"))
        await fixture.stop()
    }

    @Test("one address cannot hold more than maxUnauthenticatedPerAddress streams that have not logged in")
    func perAddressCap() async throws {
        let fixture = try makeFixture {
            $0.maxUnauthenticatedPerAddress = 3
            $0.maxConnectionsPerAddress = 5
        }
        var idle: [TestSocket] = []
        for _ in 0..<3 {
            let client = try await fixture.openStream(from: "127.0.0.51")
            idle.append(client)
        }
        let (text, closed) = try await fixture.connect(from: "127.0.0.51").readToEnd()
        #expect(text.isEmpty && closed, "the fourth idle stream from one address is closed at once")
        #expect(try await fixture.login(from: "127.0.0.52").contains("<jid>"), "other addresses are served")
        idle.removeAll()
        for _ in 0..<200 where fixture.server.openConnections > 0 {
            _ = try? await fixture.connect(from: "127.0.0.99").serverActs(within: 10)
        }
        #expect(try await fixture.login(from: "127.0.0.51").contains("<jid>"), "slots come back when streams close")
        await fixture.stop()
    }

    @Test("a login releases its unauthenticated slot: an address with as many logged-in streams as the cap can open another")
    func loginReleasesSlot() async throws {
        let fixture = try makeFixture {
            $0.maxUnauthenticatedPerAddress = 2
            $0.maxConnectionsPerAddress = 5
        }
        var streams: [TestSocket] = []
        for _ in 0..<2 {
            let client = try await fixture.openStream(from: "127.0.0.53")
            client.send(DemoServerFixture.plain("demo", "demo-password"))
            #expect(await client.read(until: "/>").contains("<success"))
            streams.append(client)
        }
        #expect(fixture.server.connectionCounts(from: .literal("127.0.0.53")) == (open: 2, unauthenticated: 0))
        let third = try fixture.connect(from: "127.0.0.53")
        third.send(DemoServerFixture.header)
        #expect(await third.read(until: "</stream:features>").contains("</stream:features>"), "served: the two logged-in streams hold no unauthenticated slot")
        withExtendedLifetime(streams) {}
        await fixture.stop()
    }

    @Test("one address cannot hold more than maxConnectionsPerAddress streams, logged in or not")
    func openStreamsCap() async throws {
        let fixture = try makeFixture {
            $0.maxUnauthenticatedPerAddress = 5
            $0.maxConnectionsPerAddress = 2
        }
        var streams: [TestSocket] = []
        for _ in 0..<2 {
            let client = try await fixture.openStream(from: "127.0.0.54")
            client.send(DemoServerFixture.plain("demo", "demo-password"))
            #expect(await client.read(until: "/>").contains("<success"))
            streams.append(client)
        }
        let (text, closed) = try await fixture.connect(from: "127.0.0.54").readToEnd()
        #expect(text.isEmpty && closed, "a third stream from the address is closed at once")
        #expect(try await fixture.login(from: "127.0.0.55").contains("<jid>"), "other addresses are served")
        withExtendedLifetime(streams) {}
        await fixture.stop()
    }
}
