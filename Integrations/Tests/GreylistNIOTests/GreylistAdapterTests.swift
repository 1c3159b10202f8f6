import Foundation
import Greylist
import Logging
import Metrics
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import GreylistNIO

/// The swift-log and swift-metrics adapters, and the accept handler on real loopback sockets.
@Suite(.serialized) struct GreylistAdapterTests {
    /// Keeps every line logged.
    struct Recording: LogHandler {
        let lines: NIOLockedValueBox<[(Logger.Level, String, Logger.Metadata?)]>
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lines.withLockedValue { $0.append((event.level, "\(event.message)", event.metadata)) }
        }
    }

    @Test func eventsBecomeLogLinesAtTheirLevelWithTheirKind() async throws {
        let lines = NIOLockedValueBox<[(Logger.Level, String, Logger.Metadata?)]>([])
        var logger = Logger(label: "test") { _ in Recording(lines: lines) }
        logger.logLevel = .info
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [GreylistRule(name: "botnet", pattern: "^bad_user_")]),
                                    events: GreylistEventLogger(logger: logger).sink)
        let bot = try IPAddress("203.0.113.7")
        _ = await greylist.recordFailedAuth(user: "bad_user_12345\nforged line", ip: bot)
        _ = greylist.shouldAccept(ip: bot)  // a refusal: trace, below this logger's level
        let logged = lines.withLockedValue { $0 }
        #expect(logged.contains { $0.0 == .notice && $0.1.hasPrefix("banned 203.0.113.7/32") && $0.2?["greylist.event"] == "banned" })
        #expect(logged.allSatisfy { !$0.1.contains("\n") }, "a username cannot start a line of its own")
        #expect(!logged.contains { $0.2?["greylist.event"] == "refused" })
    }

    @Test func eventsAndStatisticsBecomeMetrics() async throws {
        // The metrics system takes one factory per process; this is the only test that sets one.
        let metrics = TestMetrics()
        MetricsSystem.bootstrap(metrics)
        let adapter = GreylistMetrics()
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$")]),
                                    events: adapter.sink)
        let bot = try IPAddress("203.0.113.7")
        _ = await greylist.recordFailedAuth(user: "bad_user_12345", ip: bot)
        _ = await greylist.recordFailedAuth(user: "someone", ip: try IPAddress("198.51.100.1"))
        #expect(!greylist.shouldAccept(ip: bot))
        #expect(!greylist.shouldAccept(ip: bot))
        adapter.record(await greylist.statistics())
        #expect(try metrics.expectCounter("greylist_refused_total").totalValue == 2)
        #expect(try metrics.expectCounter("greylist_bans_total", [("reason", "rule")]).totalValue == 1)
        #expect(try metrics.expectCounter("greylist_failures_total", [("outcome", "banned")]).totalValue == 1)
        #expect(try metrics.expectCounter("greylist_failures_total", [("outcome", "no-rule")]).totalValue == 1)
        #expect(try metrics.expectGauge("greylist_active_bans").lastValue == 1)
    }

    @Test func aBannedSourceGetsZeroBytesFromARealServerAndNoChildPipeline() async throws {
        let greylist = try Greylist()
        _ = try await greylist.ban(IPNetwork("127.0.0.3/32"), for: .seconds(600), reason: "test")
        let initialized = NIOLockedValueBox(0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GreylistAcceptHandler(greylist: greylist))
                }
            }
            .childChannelInitializer { channel in
                initialized.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Greeter()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let refused = try await TestClient.firstBytes(port: port, source: "127.0.0.3")
        let served = try await TestClient.firstBytes(port: port, source: "127.0.0.4")
        #expect(refused.isEmpty)
        #expect(served == Array("hello".utf8))
        #expect(initialized.withLockedValue { $0 } == 1)
        try await server.close()
        try await group.shutdownGracefully()
    }

    /// Says hello to each client it is given.
    final class Greeter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(string: "hello")), promise: nil)
        }
    }
}
