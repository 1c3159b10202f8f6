import Greylist
import NIOCore

/// Refuses banned sources on a NIO server channel, before their child channel is initialized:
/// no TLS handler, no pipeline, no read, 0 bytes sent.
///
/// Add it in the server channel's initializer; NIO runs those handlers before the bootstrap's
/// own accept handler, so a refused child is closed before `childChannelInitializer` sees it:
///
/// ```swift
/// let bootstrap = ServerBootstrap(group: group)
///     .serverChannelInitializer { channel in
///         channel.eventLoop.makeCompletedFuture {
///             try channel.pipeline.syncOperations.addHandler(GreylistAcceptHandler(greylist: greylist))
///         }
///     }
///     .childChannelInitializer { channel in /* TLS, codecs: only for sources not banned */ }
/// ```
///
/// Connections from `ProxyProtocolPolicy/trustedProxies` are let through unjudged: their client
/// is named in the PROXY header, which ``GreylistProxyHeaderHandler`` reads and judges.
public final class GreylistAcceptHandler: ChannelInboundHandler, Sendable {
    public typealias InboundIn = Channel
    public typealias InboundOut = Channel

    private let greylist: Greylist
    private let proxyProtocol: ProxyProtocolPolicy

    /// Creates the handler.
    ///
    /// - Parameters:
    ///   - greylist: Whose `Greylist/shouldAccept(ip:)` judges each accepted socket.
    ///   - proxyProtocol: Load balancers whose connections are judged by their header instead.
    public init(greylist: Greylist, proxyProtocol: ProxyProtocolPolicy = ProxyProtocolPolicy()) {
        self.greylist = greylist
        self.proxyProtocol = proxyProtocol
    }

    /// Closes a refused child channel; passes the others on to the bootstrap.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = Self.unwrapInboundIn(data)
        if let address = child.remoteAddress.flatMap(IPAddress.init), !proxyProtocol.expectsHeader(from: address),
           !greylist.shouldAccept(ip: address) {
            child.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}
