import Foundation
import Greylist
import GreylistNIO
import GreylistXMPP
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// The example XMPP server on SwiftNIO: STARTTLS on one port (RFC 6120 §5, PLAIN only after
/// TLS), direct TLS on another (XEP-0368), both behind ``GreylistAcceptor`` (a banned source's
/// socket is closed on the accept thread, before it is a channel) or, with `--nio-acceptor`,
/// ``GreylistAcceptHandler`` in a `ServerBootstrap` (closed before its pipeline exists), and,
/// with trusted proxies, the PROXY header handler.
@main
struct ExampleServer {
    static func main() throws {
        // Before any thread starts, so every thread inherits the mask and sigwait gets them.
        SignalWaiter.block()
        let options: ExampleOptions
        do {
            options = try ExampleOptions(Array(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("GreylistNIOExample: \(error)\n".utf8))
            exit(2)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "greylist")
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(botnetPattern: "^bad_user_[0-9]{5,}$")),
                                    events: GreylistEventLogger(logger: logger).sink)
        let banned = options.bans
        let bansPlaced = DispatchSemaphore(value: 0)
        // Detached: `main` runs on the main actor, which this thread's wait would block.
        Task.detached {
            for network in banned { _ = try? await greylist.ban(network, for: .seconds(86_400), reason: "--ban") }
            bansPlaced.signal()
        }
        bansPlaced.wait()
        let (certificate, key): (NIOSSLCertificate, NIOSSLPrivateKey)
        if let certificatePath = options.certificatePath, let keyPath = options.keyPath {
            guard let first = try NIOSSLCertificate.fromPEMFile(certificatePath).first else {
                throw ExampleOptions.Problem(description: "--certificate \(certificatePath): no certificate in the file")
            }
            certificate = first
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } else {
            (certificate, key) = try SelfSignedCertificate.make(for: options.domain)
            logger.notice("no --certificate given: a self-signed certificate for \(options.domain) was made for this run")
        }
        let tls = try NIOSSLContext(configuration: ExampleTLS.configuration(certificate: certificate, key: key))
        let caps = ConnectionCaps()
        var sessionSettings = XMPPSessionSettings(domain: options.domain)
        sessionSettings.offersStartTLS = true
        let settings = sessionSettings
        let policy = ProxyProtocolPolicy(trustedProxies: options.trustedProxies)
        let users = options.users
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)

        /// An admitted connection's pipeline: the PROXY header (from trusted proxies), TLS on the
        /// direct-TLS port, the XMPP session.
        @Sendable func initialize(_ channel: Channel, directTLS: Bool) -> EventLoopFuture<Void> {
            channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                if !policy.trustedProxies.isEmpty {
                    try pipeline.addHandler(GreylistProxyHeaderHandler(greylist: greylist, policy: policy) { error in
                        logger.warning("closed a connection for its PROXY header: \(error)")
                    })
                }
                if directTLS { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                try pipeline.addHandler(XMPPChannelHandler(settings: settings, encrypted: directTLS, greylist: greylist, accounts: users, tls: tls,
                                                           caps: caps, identifiedLater: !policy.trustedProxies.isEmpty))
            }
        }

        /// A NIO `ServerBootstrap` with ``GreylistAcceptHandler`` in its server channel
        /// (`--nio-acceptor`), or with a handler that closes every child (`--baseline`).
        func bootstrap(port: Int, directTLS: Bool) throws -> Channel {
            try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1_024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if options.baseline {
                            try channel.pipeline.syncOperations.addHandler(CloseEveryConnection())
                        } else {
                            try channel.pipeline.syncOperations.addHandler(GreylistAcceptHandler(greylist: greylist, proxyProtocol: policy))
                        }
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in initialize(channel, directTLS: directTLS) }
                .bind(host: options.host, port: port).wait()
        }

        let refusesInNIO = options.nioAcceptor || options.baseline

        /// A listener on `port`, closed by the returned function.
        func listen(port: Int, directTLS: Bool) throws -> (port: Int, close: () -> Void) {
            if refusesInNIO {
                let channel = try bootstrap(port: port, directTLS: directTLS)
                return (channel.localAddress?.port ?? port, { try? channel.close().wait() })
            }
            let acceptor = try GreylistAcceptor(host: options.host, port: port, greylist: greylist, proxyProtocol: policy,
                                                group: group, logger: logger) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions?.setOption(.socketOption(.tcp_nodelay), value: 1)
                }.flatMap { initialize(channel, directTLS: directTLS) }
            }
            return (acceptor.port, { acceptor.syncClose() })
        }

        let plain = try listen(port: options.port, directTLS: false)
        let direct = try listen(port: options.tlsPort, directTLS: true)
        let acceptor = refusesInNIO ? "NIO's accept" : "an accept thread"
        logger.notice("listening on \(options.host):\(plain.port) (STARTTLS) and \(options.host):\(direct.port) (direct TLS) for \(options.domain), refusing in \(acceptor)")
        SignalWaiter.waitForTermination()
        logger.notice("stopping")
        plain.close()
        direct.close()
        try? group.syncShutdownGracefully()
    }
}

/// The benchmarks' floor: closes every accepted socket where ``GreylistAcceptHandler`` would
/// close a banned one, with no check at all.
final class CloseEveryConnection: ChannelInboundHandler, Sendable {
    typealias InboundIn = Channel

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        Self.unwrapInboundIn(data).close(promise: nil)
    }
}

/// Blocks SIGINT and SIGTERM and waits for one with `sigwait` on the main thread.
enum SignalWaiter {
    static var signals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        return signals
    }

    static func block() {
        var signals = Self.signals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    static func waitForTermination() {
        var signals = Self.signals
        var received: Int32 = 0
        sigwait(&signals, &received)
    }
}
