import Greylist
import NIOCore
import NIOEmbedded
import Testing
@testable import GreylistNIO

/// The server-channel handler, on embedded channels: a refused child is closed and never reaches
/// the bootstrap's accept handler.
@Suite struct GreylistAcceptHandlerTests {
    /// Records the children that got through. `@unchecked Sendable`: an embedded channel runs its
    /// handlers on the test's own thread, one call at a time.
    final class Forwarded: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = Channel
        var children: [Channel] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            children.append(Self.unwrapInboundIn(data))
        }
    }

    static func child(_ address: String) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        // Connected, so a close shows: an embedded channel is active only once connected.
        try channel.connect(to: SocketAddress(ipAddress: address, port: 40_000)).wait()
        return channel
    }

    @Test func aBannedSourceIsClosedBeforeItsPipelineIsSetUp() async throws {
        let greylist = try Greylist()
        _ = try await greylist.ban(IPNetwork("203.0.113.0/24"), for: .seconds(600), reason: "test")
        let forwarded = Forwarded()
        let server = EmbeddedChannel(handlers: [GreylistAcceptHandler(greylist: greylist), forwarded])
        let banned = try Self.child("203.0.113.7")
        let welcome = try Self.child("198.51.100.7")
        let bannedV6 = try Self.child("2001:db8::1")
        _ = try await greylist.ban(IPNetwork("2001:db8::/64"), for: .seconds(600), reason: "test")
        try server.writeInbound(banned as Channel)
        try server.writeInbound(welcome as Channel)
        try server.writeInbound(bannedV6 as Channel)
        #expect(forwarded.children.count == 1)
        #expect(forwarded.children.first === welcome)
        #expect(!banned.isActive && !bannedV6.isActive)
        #expect(welcome.isActive)
        #expect(try banned.readOutbound(as: ByteBuffer.self) == nil, "nothing was written to the refused client")
        #expect(await greylist.statistics().refused == 2)
        _ = try? server.finish()
    }

    @Test func aTrustedProxyIsLetThroughForItsHeader() async throws {
        let greylist = try Greylist()
        _ = try await greylist.ban(IPNetwork("10.0.0.0/8"), for: .seconds(600), reason: "test")
        let forwarded = Forwarded()
        let policy = ProxyProtocolPolicy(trustedProxies: [try IPNetwork("10.0.0.5/32")])
        let server = EmbeddedChannel(handlers: [GreylistAcceptHandler(greylist: greylist, proxyProtocol: policy), forwarded])
        try server.writeInbound(try Self.child("10.0.0.5") as Channel)
        try server.writeInbound(try Self.child("10.0.0.6") as Channel)
        #expect(forwarded.children.count == 1)
        _ = try? server.finish()
    }

    @Test func socketAddressesBecomeGreylistAddresses() throws {
        #expect(IPAddress(try SocketAddress(ipAddress: "192.0.2.7", port: 1)) == (try IPAddress("192.0.2.7")))
        #expect(IPAddress(try SocketAddress(ipAddress: "2001:db8::7", port: 1)) == (try IPAddress("2001:db8::7")))
        #expect(IPAddress(try SocketAddress(unixDomainSocketPath: "/tmp/x")) == nil)
    }
}
