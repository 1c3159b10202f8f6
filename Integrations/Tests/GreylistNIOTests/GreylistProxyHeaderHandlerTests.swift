import Greylist
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing
@testable import GreylistNIO

/// The PROXY header handler on embedded channels (time driven by hand).
@Suite struct GreylistProxyHeaderHandlerTests {
    /// Records what the handler passes on. `@unchecked Sendable`: an embedded channel runs its
    /// handlers on the test's own thread, one call at a time.
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var identified: [GreylistClientIdentified] = []
        var text = ""
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            text += String(buffer: Self.unwrapInboundIn(data))
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? GreylistClientIdentified { identified.append(event) }
        }
    }

    static let policy = ProxyProtocolPolicy(trustedProxies: [try! IPNetwork("10.0.0.5/32")], headerTimeout: .seconds(2))

    static func channel(peer: String, greylist: Greylist, refused: NIOLockedValueBox<[ProxyProtocolError]>) throws -> (EmbeddedChannel, Collector) {
        let collector = Collector()
        let channel = EmbeddedChannel()
        // Connected, so a close shows: an embedded channel is active only once connected.
        try channel.connect(to: SocketAddress(ipAddress: peer, port: 40_000)).wait()
        #expect(channel.isActive)
        try channel.pipeline.syncOperations.addHandler(GreylistProxyHeaderHandler(greylist: greylist, policy: policy) { error in
            refused.withLockedValue { $0.append(error) }
        })
        try channel.pipeline.syncOperations.addHandler(collector)
        return (channel, collector)
    }

    @Test func aTrustedProxysHeaderNamesTheClientAndTheRestPassesOn() throws {
        let greylist = try Greylist()
        let refused = NIOLockedValueBox<[ProxyProtocolError]>([])
        let (channel, collector) = try Self.channel(peer: "10.0.0.5", greylist: greylist, refused: refused)
        try channel.writeInbound(channel.allocator.buffer(string: "PROXY TCP4 192.0.2.9 10.0.0.1 5000 5222\r"))
        #expect(collector.identified.isEmpty && collector.text.isEmpty)
        try channel.writeInbound(channel.allocator.buffer(string: "\n<stream"))
        #expect(collector.identified.map(\.client) == [try IPAddress("192.0.2.9")])
        #expect(collector.text == "<stream")
        try channel.writeInbound(channel.allocator.buffer(string: " more"))
        #expect(collector.text == "<stream more", "the handler removed itself")
        #expect(refused.withLockedValue { $0 }.isEmpty)
    }

    @Test func aHeaderThatNamesNoClientIsPassedOnAsNotIdentifyingIt() throws {
        let greylist = try Greylist()
        let refused = NIOLockedValueBox<[ProxyProtocolError]>([])
        let (unknown, collector) = try Self.channel(peer: "10.0.0.5", greylist: greylist, refused: refused)
        try unknown.writeInbound(unknown.allocator.buffer(string: "PROXY UNKNOWN\r\n<stream"))
        #expect(collector.text == "<stream")
        #expect(collector.identified.map(\.client) == [try IPAddress("10.0.0.5")])
        #expect(collector.identified.map(\.identifiesClient) == [false], "the proxy's own address: report no logins for it")
        let (named, namedCollector) = try Self.channel(peer: "10.0.0.5", greylist: greylist, refused: refused)
        try named.writeInbound(named.allocator.buffer(string: "PROXY TCP6 ::ffff:192.0.2.9 ::ffff:10.0.0.1 5000 5222\r\n"))
        #expect(namedCollector.identified.map(\.client) == [try IPAddress("192.0.2.9")], "a dual-stack HAProxy's IPv4 client")
        #expect(namedCollector.identified.map(\.identifiesClient) == [true])
    }

    @Test func aBannedClientBehindTheProxyIsClosedWithoutAByte() async throws {
        let greylist = try Greylist()
        _ = try await greylist.ban(IPNetwork("192.0.2.9/32"), for: .seconds(600), reason: "test")
        let refused = NIOLockedValueBox<[ProxyProtocolError]>([])
        let (channel, collector) = try Self.channel(peer: "10.0.0.5", greylist: greylist, refused: refused)
        try channel.writeInbound(channel.allocator.buffer(string: "PROXY TCP4 192.0.2.9 10.0.0.1 5000 5222\r\n<stream"))
        #expect(!channel.isActive)
        #expect(collector.text.isEmpty)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test func malformedSlowAndUntrustedHeadersAreRefused() throws {
        let greylist = try Greylist()
        let refused = NIOLockedValueBox<[ProxyProtocolError]>([])
        let (malformed, _) = try Self.channel(peer: "10.0.0.5", greylist: greylist, refused: refused)
        try malformed.writeInbound(malformed.allocator.buffer(string: "<stream:stream>"))
        #expect(!malformed.isActive)
        let (slow, _) = try Self.channel(peer: "10.0.0.5", greylist: greylist, refused: refused)
        try slow.writeInbound(slow.allocator.buffer(string: "PROXY TCP4"))
        (slow.eventLoop as! EmbeddedEventLoop).advanceTime(by: .seconds(3))
        #expect(!slow.isActive)
        let (spoof, _) = try Self.channel(peer: "192.0.2.50", greylist: greylist, refused: refused)
        try spoof.writeInbound(spoof.allocator.buffer(string: "PROXY TCP4 192.0.2.1 10.0.0.1 1 5222\r\n"))
        #expect(!spoof.isActive)
        let reasons = refused.withLockedValue { $0 }
        #expect(reasons.count == 3)
        #expect(reasons[1] == .timedOut(.seconds(2)))
        #expect(reasons[2] == .untrustedPeer(try IPAddress("192.0.2.50")))
        // A direct client's stream passes, its own address identified.
        let (direct, collector) = try Self.channel(peer: "192.0.2.51", greylist: greylist, refused: refused)
        try direct.writeInbound(direct.allocator.buffer(string: "<?xml"))
        #expect(direct.isActive && collector.text == "<?xml")
        #expect(collector.identified.map(\.client) == [try IPAddress("192.0.2.51")])
    }
}
