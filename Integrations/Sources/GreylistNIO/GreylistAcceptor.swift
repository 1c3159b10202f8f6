import Foundation
import Greylist
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A listening socket served by a thread of its own, blocked in `accept(2)`, in front of NIO:
/// a banned source's connection is closed right after `accept`, on that thread, and never becomes
/// a NIO channel; the others are handed to an event loop of `group` with the initializer you give.
///
/// ``GreylistAcceptHandler`` refuses inside a `ServerBootstrap`, where NIO's own accept path
/// (an epoll wakeup, the child `SocketChannel`, its close) sets the floor. This acceptor skips
/// that path for refused sockets: a refusal costs `accept`, a hash probe and `close`, about
/// half of NIO's accept-and-close (BENCHMARKS.md §10). Admitted sockets cost one hand-off to an
/// event loop, as a `ServerBootstrap` child does.
///
/// ```swift
/// let acceptor = try GreylistAcceptor(host: "0.0.0.0", port: 5223, greylist: greylist, group: group) { channel in
///     channel.eventLoop.makeCompletedFuture {
///         try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
///         try channel.pipeline.syncOperations.addHandler(MyProtocolHandler())
///     }
/// }
/// // …
/// await acceptor.close()   // or syncClose() from code that is not async
/// ```
///
/// Connections from `ProxyProtocolPolicy/trustedProxies` are handed on unjudged: add
/// ``GreylistProxyHeaderHandler`` first in the initializer, and it judges the client its header
/// names. The accept loop survives `ECONNABORTED`, and pauses 100 ms (logging once per 10 s) on
/// `EMFILE`, `ENFILE`, `ENOBUFS` and `ENOMEM` instead of spinning; the kernel keeps the backlog.
public final class GreylistAcceptor: Sendable {
    /// The port the acceptor listens on (the one the system chose when `port` was 0).
    public let port: Int

    private let descriptor: Int32
    private let greylist: Greylist
    private let proxyProtocol: ProxyProtocolPolicy
    private let group: any EventLoopGroup
    private let logger: Logger?
    private let childChannelInitializer: @Sendable (Channel) -> EventLoopFuture<Void>
    private let stopping = Atomic<Bool>(false)
    /// Entered while the accept thread runs (not a promise of `group`'s: the thread may end after
    /// the group shut down).
    private let running = DispatchGroup()
    private let handedOver = Atomic<Int>(0)

    /// Binds, listens and starts the accept thread, which runs (and keeps this acceptor) until
    /// ``close()``.
    ///
    /// - Parameters:
    ///   - host: A numeric IPv4 or IPv6 address or a name to resolve (`"::"` takes IPv4 and IPv6
    ///     clients; IPv4-mapped peers are judged as IPv4).
    ///   - port: The port; 0 lets the system choose (read it from ``port``).
    ///   - backlog: The listen backlog.
    ///   - greylist: Whose `Greylist/shouldAccept(ip:)` judges each accepted socket.
    ///   - proxyProtocol: Load balancers whose connections are judged by their PROXY header.
    ///   - group: The event loops admitted connections go to (one after another).
    ///   - logger: Where accept-loop trouble (out of descriptors) and failed hand-overs are
    ///     reported; `nil` reports nothing.
    ///   - childChannelInitializer: Sets up an admitted connection's pipeline, as a
    ///     `ServerBootstrap`'s child initializer would.
    /// - Throws: ``GreylistAcceptorError`` naming the address and the call that failed.
    public init(host: String, port: Int, backlog: Int32 = 1_024, greylist: Greylist, proxyProtocol: ProxyProtocolPolicy = ProxyProtocolPolicy(),
                group: any EventLoopGroup, logger: Logger? = nil,
                childChannelInitializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) throws(GreylistAcceptorError) {
        let named = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw GreylistAcceptorError(address: named, operation: "resolve", reason: "\(error)")
        }
        let bound = address.withSockAddr { pointer, length in
            AcceptorSystem.listen(on: pointer, length: length, family: Int32(address.protocol.rawValue), backlog: backlog)
        }
        switch bound {
        case .success(let descriptor):
            self.descriptor = descriptor
        case .failure(let failure):
            throw GreylistAcceptorError(address: named, operation: failure.call, errorNumber: failure.code, reason: AcceptorSystem.describe(failure.code))
        }
        self.port = AcceptorSystem.boundPort(descriptor) ?? port
        self.greylist = greylist
        self.proxyProtocol = proxyProtocol
        self.group = group
        self.logger = logger
        self.childChannelInitializer = childChannelInitializer
        running.enter()
        let thread = Thread { [self] in run() }
        thread.name = "greylist.acceptor"
        thread.start()
    }

    /// Connections handed to NIO so far (admitted ones; refused ones are counted by the greylist).
    public var admittedConnections: Int {
        handedOver.load(ordering: .relaxed)
    }

    /// Stops accepting and closes the listening socket; returns once the accept thread ended.
    /// Connections already handed to NIO are not touched. Calling it again does nothing more.
    /// Close the acceptor before shutting `group` down: a connection admitted after that could
    /// not be handed over.
    public func close() async {
        beginClose()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            running.notify(queue: .global()) { continuation.resume() }
        }
    }

    /// ``close()`` for code that is not async (a `main` that ends with
    /// `syncShutdownGracefully`); it blocks the calling thread until the accept thread ended.
    public func syncClose() {
        beginClose()
        running.wait()
    }

    private func beginClose() {
        let first = !stopping.exchange(true, ordering: .acquiringAndReleasing)
        // The thread closes the descriptor once its blocked accept fails: closing it here could
        // let a new socket take the number while the thread still uses it.
        if first { AcceptorSystem.shutdown(descriptor) }
    }

    private func run() {
        AcceptorSystem.blockSignals()
        var lastWarning = ContinuousClock.now - .seconds(60)
        let bootstrap = ClientBootstrap(group: group).channelInitializer(childChannelInitializer)
        while true {
            var storage = sockaddr_storage()
            let client = AcceptorSystem.accept(descriptor, into: &storage)
            guard client >= 0 else {
                let code = AcceptorSystem.errorNumber
                if stopping.load(ordering: .acquiring) { break }
                switch code {
                case ECONNABORTED, EPROTO:
                    continue
                default:
                    if ContinuousClock.now - lastWarning > .seconds(10) {
                        lastWarning = .now
                        logger?.warning("accept on port \(port): \(AcceptorSystem.describe(code)) (errno \(code)); pausing accepts for 100 ms")
                    }
                    AcceptorSystem.pause(milliseconds: 100)
                    continue
                }
            }
            guard let peer = IPAddress(socketAddress: storage) else {
                AcceptorSystem.close(client)
                continue
            }
            guard proxyProtocol.expectsHeader(from: peer) || greylist.shouldAccept(ip: peer) else {
                AcceptorSystem.close(client)
                continue
            }
            handedOver.add(1, ordering: .relaxed)
            bootstrap.withConnectedSocket(client).whenFailure { [logger] error in
                logger?.warning("could not hand an accepted connection to NIO: \(error)")
            }
        }
        AcceptorSystem.close(descriptor)
        running.leave()
    }
}
