import Greylist
import NIOCore

/// Told down a child pipeline once the connection's client is known: the PROXY header's client
/// for a load balancer's connection, else the socket's peer.
public struct GreylistClientIdentified: Hashable, Sendable {
    /// The address the greylist judges and failed logins are reported for.
    public var client: IPAddress
    /// The header, when there was one.
    public var header: ProxyHeader?

    /// Whether `client` is the client itself: `false` when a trusted proxy's header named no
    /// client (`LOCAL`, `UNKNOWN`, a Unix-socket or `AF_UNSPEC` source), so `client` is the
    /// proxy's own address. Report no logins for such a connection: its failures would ban the
    /// proxy, and every client behind it, and its successes would make the proxy trusted.
    public var identifiesClient: Bool {
        header.map { $0.clientAddress != nil } ?? true
    }

    /// Creates the event.
    ///
    /// - Parameters:
    ///   - client: The client's address.
    ///   - header: The PROXY header read, if any.
    public init(client: IPAddress, header: ProxyHeader?) {
        self.client = client
        self.header = header
    }
}

/// The first handler of a child pipeline when load balancers speak HAProxy's PROXY protocol
/// (the sans-IO `ProxyHeaderParser` under a channel handler). From a trusted proxy it holds
/// every byte until the header is whole (bounded in size and by `ProxyProtocolPolicy/headerTimeout`),
/// closes the connection if the greylist refuses the client the header names, then fires
/// ``GreylistClientIdentified``, passes on what followed the header, and removes itself. From
/// anyone else it refuses a connection whose first bytes are a PROXY header. A refused header
/// closes the connection without a byte sent and calls `onRefused` (count it, log it).
public final class GreylistProxyHeaderHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let greylist: Greylist
    private let policy: ProxyProtocolPolicy
    private let onRefused: @Sendable (ProxyProtocolError) -> Void
    private var parser: ProxyHeaderParser
    private var peer: IPAddress?
    private var expectsHeader = false
    private var held: [UInt8] = []
    private var timeout: Scheduled<Void>?
    private var done = false

    /// Creates the handler for one connection.
    ///
    /// - Parameters:
    ///   - greylist: Judges the client a header names.
    ///   - policy: The trusted proxies, the header timeout and size.
    ///   - onRefused: Told of every header refused.
    public init(greylist: Greylist, policy: ProxyProtocolPolicy, onRefused: @escaping @Sendable (ProxyProtocolError) -> Void = { _ in }) {
        self.greylist = greylist
        self.policy = policy
        self.onRefused = onRefused
        self.parser = policy.makeParser()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress.flatMap(IPAddress.init)
        expectsHeader = peer.map(policy.expectsHeader(from:)) ?? false
        guard expectsHeader else { return }
        let (seconds, attoseconds) = policy.headerTimeout.components
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = context.loopBound
        let limit = policy.headerTimeout
        timeout = context.eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
            handler.value.refuse(.timedOut(limit), context: boundContext.value)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var buffer = Self.unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        if expectsHeader {
            switch parser.receive(bytes) {
            case .needMore:
                return
            case .failed(let error):
                refuse(error, context: context)
            case .header(let header, let rest):
                let client = header.clientAddress ?? peer
                if header.clientAddress != nil, let client, !greylist.shouldAccept(ip: client) {
                    done = true
                    context.close(promise: nil)
                    return
                }
                handOver(client: client, header: header, rest: rest, context: context)
            }
        } else {
            held += bytes
            switch ProxyHeaderParser.startsLikeHeader(held) {
            case true?:
                refuse(.untrustedPeer(peer ?? IPAddress(bits: 0)), context: context)
            case nil:
                return
            case false?:
                handOver(client: peer, header: nil, rest: held, context: context)
            }
        }
    }

    private func refuse(_ error: ProxyProtocolError, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        onRefused(error)
        context.close(promise: nil)
    }

    private func handOver(client: IPAddress?, header: ProxyHeader?, rest: [UInt8], context: ChannelHandlerContext) {
        done = true
        timeout?.cancel()
        if let client { context.fireUserInboundEventTriggered(GreylistClientIdentified(client: client, header: header)) }
        if !rest.isEmpty { context.fireChannelRead(Self.wrapInboundOut(context.channel.allocator.buffer(bytes: rest))) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
