import Foundation
import Greylist
import GreylistXMPP
import NIOCore
import NIOPosix
import NIOSSL
import Testing
@testable import GreylistNIOExample

/// The example's XMPP handler when a failed login's verdict arrives after its stream is gone:
/// closed by the login deadline, or by a shutdown, while `recordFailedAuth` was still owed.
@Suite struct XMPPChannelHandlerTests {
    static let header = "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

    static func plain(_ user: String, _ password: String) -> String {
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("\0\(user)\0\(password)".utf8).base64EncodedString())</auth>"
    }

    /// A plaintext XMPP listener on a free loopback port whose failed logins go to `greylist`.
    struct Server {
        let group: MultiThreadedEventLoopGroup
        let channel: Channel
        var port: Int { channel.localAddress?.port ?? 0 }

        init(greylist: Greylist, authTimeout: Duration, caps: ConnectionCaps? = nil) async throws {
            let (certificate, key) = try SelfSignedCertificate.make(for: "localhost")
            let tls = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key)))
            var settings = XMPPSessionSettings(domain: "localhost")
            settings.authTimeout = authTimeout
            let sessionSettings = settings
            group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            XMPPChannelHandler(settings: sessionSettings, encrypted: false, greylist: greylist,
                                               accounts: ["demo": "demo-password"], tls: tls, caps: caps))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func stop() async throws {
            try? await channel.close()
            try await group.shutdownGracefully()
        }
    }

    static func greylist(store: HeldStore) throws -> Greylist {
        try Greylist(configuration: GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(botnetPattern: "^bad_user_[0-9]{5,}$")),
                     store: store)
    }

    @Test("a verdict that arrives after the login deadline closed the stream is dropped; the server goes on serving")
    func verdictAfterDeadline() async throws {
        let store = HeldStore()
        let greylist = try Self.greylist(store: store)
        let server = try await Server(greylist: greylist, authTimeout: .seconds(2))
        let bot = try LineClient(port: server.port, source: "127.0.0.41")
        bot.send(Self.header)
        #expect(await bot.read(until: "</stream:features>").text.contains("PLAIN"))
        bot.send(Self.plain("bad_user_12345", "x"))
        let (text, closed) = await bot.read(until: nil)
        #expect(closed, "the login deadline closes the stream while the verdict is owed")
        #expect(text.contains("connection-timeout"))
        #expect(store.waits == 1, "the verdict was owed when the deadline fired")
        store.release()
        #expect(await greylist.list().count == 1, "the ban itself stands")
        let user = try LineClient(port: server.port, source: "127.0.0.42")
        user.send(Self.header)
        await user.read(until: "</stream:features>")
        user.send(Self.plain("demo", "demo-password"))
        #expect(await user.read(until: "/>").text.contains("<success"), "the server still serves")
        try await server.stop()
    }

    @Test("a verdict that arrives after the event loops shut down is dropped", .timeLimit(.minutes(1)))
    func verdictAfterShutdown() async throws {
        let store = HeldStore()
        let greylist = try Self.greylist(store: store)
        let server = try await Server(greylist: greylist, authTimeout: .seconds(30))
        let bot = try LineClient(port: server.port, source: "127.0.0.43")
        bot.send(Self.header)
        await bot.read(until: "</stream:features>")
        bot.send(Self.plain("bad_user_12345", "x"))
        // The failure is on its way to the greylist; the shutdown closes the stream meanwhile.
        await store.untilWaitedOn()
        try await server.stop()
        #expect(await bot.read(until: nil).closed)
        store.release()
        #expect(await greylist.list().count == 1)
    }
}

/// The example's per-address and total caps, over real sockets.
@Suite struct ConnectionCapsTests {
    @Test("an address holds at most maxUnauthenticatedPerAddress streams not logged in; a login frees its slot; closing frees the rest")
    func unauthenticatedCap() async throws {
        let greylist = try Greylist()
        let caps = ConnectionCaps(limits: ConnectionCaps.Limits(maxConnections: 100, maxConnectionsPerAddress: 3, maxUnauthenticatedPerAddress: 2))
        let server = try await XMPPChannelHandlerTests.Server(greylist: greylist, authTimeout: .seconds(30), caps: caps)
        let source = try IPAddress("127.0.0.51")
        var streams: [LineClient] = []
        for _ in 0..<2 {
            let client = try LineClient(port: server.port, source: "127.0.0.51")
            client.send(XMPPChannelHandlerTests.header)
            #expect(await client.read(until: "</stream:features>").text.contains("PLAIN"))
            streams.append(client)
        }
        let third = try LineClient(port: server.port, source: "127.0.0.51")
        third.send(XMPPChannelHandlerTests.header)
        let refused = await third.read(until: nil)
        #expect(refused.closed && refused.text.isEmpty, "a third unauthenticated stream is closed before a byte")
        // Another address is not affected.
        let other = try LineClient(port: server.port, source: "127.0.0.52")
        other.send(XMPPChannelHandlerTests.header)
        #expect(await other.read(until: "</stream:features>").text.contains("PLAIN"))

        // A login releases its unauthenticated slot: a new stream fits again.
        streams[0].send(XMPPChannelHandlerTests.plain("demo", "demo-password"))
        #expect(await streams[0].read(until: "/>").text.contains("<success"))
        #expect(caps.counts(from: source).unauthenticated == 1)
        let fourth = try LineClient(port: server.port, source: "127.0.0.51")
        fourth.send(XMPPChannelHandlerTests.header)
        #expect(await fourth.read(until: "</stream:features>").text.contains("PLAIN"))
        // Three open from the address now: the per-address cap refuses a fourth even logged in.
        let fifth = try LineClient(port: server.port, source: "127.0.0.51")
        fifth.send(XMPPChannelHandlerTests.header)
        #expect(await fifth.read(until: nil).closed)
        try await server.stop()
        #expect(caps.counts(from: source).total == 0, "every close released its count")
    }
}
