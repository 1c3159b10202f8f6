import Foundation
import Greylist
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import GreylistNIO

/// The accept thread in front of NIO, on real loopback sockets.
@Suite(.serialized) struct GreylistAcceptorTests {
    /// Says hello to each client it is given.
    final class Greeter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(string: "hello")), promise: nil)
        }
    }

    /// An acceptor on a free loopback port whose admitted connections are greeted; counts them.
    static func greeting(_ greylist: Greylist, host: String = "127.0.0.1", proxyProtocol: ProxyProtocolPolicy = ProxyProtocolPolicy(),
                         group: any EventLoopGroup, initialized: NIOLockedValueBox<Int>) throws -> GreylistAcceptor {
        try GreylistAcceptor(host: host, port: 0, greylist: greylist, proxyProtocol: proxyProtocol, group: group) { channel in
            initialized.withLockedValue { $0 += 1 }
            return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Greeter()) }
        }
    }

    @Test("a banned source gets 0 bytes and never becomes a channel; another source gets its pipeline")
    func bannedSourceNeverBecomesAChannel() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let greylist = try Greylist()
        _ = try await greylist.ban(IPNetwork("127.0.0.3/32"), for: .seconds(600), reason: "test")
        let initialized = NIOLockedValueBox(0)
        let acceptor = try Self.greeting(greylist, group: group, initialized: initialized)
        #expect(acceptor.port > 0)
        let refused = try await TestClient.firstBytes(port: acceptor.port, source: "127.0.0.3")
        let served = try await TestClient.firstBytes(port: acceptor.port, source: "127.0.0.4")
        let servedAgain = try await TestClient.firstBytes(port: acceptor.port, source: "127.0.0.5")
        #expect(refused.isEmpty)
        #expect(served == Array("hello".utf8))
        #expect(servedAgain == Array("hello".utf8))
        #expect(initialized.withLockedValue { $0 } == 2, "the refused socket never reached the initializer")
        #expect(acceptor.admittedConnections == 2)
        #expect(await greylist.statistics().refused == 1)
        await acceptor.close()
        try await group.shutdownGracefully()
    }

    @Test("a trusted proxy is handed on unjudged, even from a banned network, for its header to be judged")
    func trustedProxyIsHandedOn() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let greylist = try Greylist()
        _ = try await greylist.ban(IPNetwork("127.0.0.0/24"), for: .seconds(600), reason: "test")
        let initialized = NIOLockedValueBox(0)
        let policy = ProxyProtocolPolicy(trustedProxies: [try IPNetwork("127.0.0.9/32")])
        let acceptor = try Self.greeting(greylist, proxyProtocol: policy, group: group, initialized: initialized)
        #expect(try await TestClient.firstBytes(port: acceptor.port, source: "127.0.0.9") == Array("hello".utf8))
        #expect(try await TestClient.firstBytes(port: acceptor.port, source: "127.0.0.8").isEmpty)
        #expect(initialized.withLockedValue { $0 } == 1)
        await acceptor.close()
        try await group.shutdownGracefully()
    }

    @Test("listening on :: serves IPv6 and IPv4 clients; an IPv4-mapped peer is judged as IPv4")
    func dualStack() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let greylist = try Greylist()
        _ = try await greylist.ban(IPNetwork("127.0.0.3/32"), for: .seconds(600), reason: "test")
        _ = try await greylist.ban(IPNetwork("::1/128"), for: .seconds(600), reason: "test")
        let initialized = NIOLockedValueBox(0)
        let acceptor = try Self.greeting(greylist, host: "::", group: group, initialized: initialized)
        #expect(try await TestClient.firstBytes(port: acceptor.port, source: "127.0.0.3").isEmpty, "::ffff:127.0.0.3 is 127.0.0.3")
        #expect(try await TestClient.firstBytes(port: acceptor.port, source: "::1", destination: "::1").isEmpty)
        #expect(try await TestClient.firstBytes(port: acceptor.port, source: "127.0.0.4") == Array("hello".utf8))
        #expect(await greylist.statistics().refused == 2)
        await acceptor.close()
        try await group.shutdownGracefully()
    }

    @Test("close stops the accept thread and frees the port; closing again returns at once")
    func closeFreesThePort() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let greylist = try Greylist()
        let initialized = NIOLockedValueBox(0)
        let acceptor = try Self.greeting(greylist, group: group, initialized: initialized)
        let port = acceptor.port
        await acceptor.close()
        await acceptor.close()
        await #expect(throws: (any Error).self, "nothing listens on the port any more") {
            try await TestClient.firstBytes(port: port, source: "127.0.0.4")
        }
        let again = try GreylistAcceptor(host: "127.0.0.1", port: port, greylist: greylist, group: group) { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Greeter()) }
        }
        #expect(again.port == port)
        #expect(try await TestClient.firstBytes(port: port, source: "127.0.0.4") == Array("hello".utf8))
        again.syncClose()
        try await group.shutdownGracefully()
    }

    @Test("an acceptor closes after its event loops were shut down")
    func closeAfterTheGroup() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let initialized = NIOLockedValueBox(0)
        let acceptor = try Self.greeting(try Greylist(), group: group, initialized: initialized)
        #expect(try await TestClient.firstBytes(port: acceptor.port, source: "127.0.0.4") == Array("hello".utf8))
        try await group.shutdownGracefully()
        await acceptor.close()
        #expect(initialized.withLockedValue { $0 } == 1)
    }

    @Test("a port in use and an address that does not resolve are errors naming the address and the call")
    func listenErrorsNameTheAddress() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let greylist = try Greylist()
        let initialized = NIOLockedValueBox(0)
        let first = try Self.greeting(greylist, group: group, initialized: initialized)
        let taken = #expect(throws: GreylistAcceptorError.self) {
            _ = try GreylistAcceptor(host: "127.0.0.1", port: first.port, greylist: greylist, group: group) { $0.eventLoop.makeSucceededVoidFuture() }
        }
        #expect(taken?.description == "cannot listen on 127.0.0.1:\(first.port): bind: Address already in use (errno \(EADDRINUSE))")
        let unresolvable = #expect(throws: GreylistAcceptorError.self) {
            _ = try GreylistAcceptor(host: "no such host.invalid", port: 5222, greylist: greylist, group: group) { $0.eventLoop.makeSucceededVoidFuture() }
        }
        #expect(unresolvable?.operation == "resolve")
        #expect(unresolvable?.description.hasPrefix("cannot listen on no such host.invalid:5222: resolve: ") == true)
        await first.close()
        try await group.shutdownGracefully()
    }
}
