import Greylist
import GreylistNIO
import GreylistXMPP
import NIOCore
import NIOSSL

/// The NIO shell of one client stream over the sans-IO ``XMPPServerSession``: bytes in, one write
/// per output, credentials checked against the example's accounts, failed logins reported to the
/// greylist (reading paused until its verdict), STARTTLS by adding the TLS handler at the front
/// of the pipeline after `<proceed/>` is written, one scheduled task for the session's deadline.
final class XMPPChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: XMPPServerSession
    private let greylist: Greylist
    private let accounts: [String: String]
    private let tls: NIOSSLContext
    /// The client: the socket's peer, or the address a trusted proxy's header named.
    private var client: IPAddress?
    private var deadline: Scheduled<Void>?
    private var closing = false
    private let caps: ConnectionCaps?
    /// Whether the client is named later by a PROXY header handler (trusted proxies configured):
    /// the caps count the stream then, under the client's address rather than the proxy's.
    private let identifiedLater: Bool
    /// The address the caps counted this stream under, once admitted.
    private var counted: IPAddress?
    private var authenticated = false

    init(settings: XMPPSessionSettings, encrypted: Bool, greylist: Greylist, accounts: [String: String], tls: NIOSSLContext,
         caps: ConnectionCaps? = nil, identifiedLater: Bool = false) {
        self.session = XMPPServerSession(settings: settings, now: .now, encrypted: encrypted)
        self.greylist = greylist
        self.accounts = accounts
        self.tls = tls
        self.caps = caps
        self.identifiedLater = identifiedLater
    }

    func handlerAdded(context: ChannelHandlerContext) {
        client = context.channel.remoteAddress.flatMap(IPAddress.init)
        arm(session.nextDeadline, context: context)
        if !identifiedLater { admit(client, context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closing = true
        deadline?.cancel()
        if let counted {
            caps?.closed(counted, wasAuthenticated: authenticated)
            self.counted = nil
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let identified = event as? GreylistClientIdentified {
            // A header that names no client leaves the proxy's address: its logins count nowhere.
            client = identified.identifiesClient ? identified.client : nil
            if identifiedLater { admit(identified.client, context: context) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Counts the stream under `address`, or closes it when a cap is reached.
    private func admit(_ address: IPAddress?, context: ChannelHandlerContext) {
        guard let caps, let address, counted == nil else { return }
        guard caps.admit(address) else {
            closing = true
            context.close(promise: nil)
            return
        }
        counted = address
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        let output = buffer.withUnsafeReadableBytes { session.receive($0, at: .now) }
        perform(output, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        deadline?.cancel()
        context.fireChannelInactive()
    }

    private func perform(_ output: XMPPSessionOutput, context: ChannelHandlerContext) {
        guard !closing else { return }
        // Counted as logged in before the client can read its <success/>.
        if output.requests.contains(where: { if case .reportSuccess = $0 { true } else { false } }) {
            if let counted, !authenticated { caps?.authenticated(counted) }
            authenticated = true
        }
        if !output.bytes.isEmpty {
            context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: output.bytes)), promise: nil)
        }
        for request in output.requests {
            switch request {
            case .checkCredentials(let credentials):
                perform(session.credentialsChecked(verdict(for: credentials), at: .now), context: context)
            case .reportFailure(let user, let verdict):
                reportFailure(of: user, verdict: verdict, context: context)
            case .reportSuccess(let user):
                // A client named by no one (a proxy's header without one) earns no trust here.
                if let client { Task { [greylist] in await greylist.recordSuccessfulAuth(user: user, ip: client) } }
            case .startTLS:
                // `<proceed/>` went out above, in the clear; from here on the bytes are TLS.
                do {
                    try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
                    perform(session.tlsEstablished(at: .now), context: context)
                } catch {
                    context.close(promise: nil)
                }
            }
        }
        if output.closes {
            closing = true
            context.close(promise: nil)
            return
        }
        arm(output.deadline, context: context)
    }

    private func verdict(for credentials: XMPPCredentials) -> XMPPCredentialVerdict {
        // A shared address whose guesses at this account are spent: not checked at all.
        if let client, !greylist.shouldVerify(user: credentials.user, ip: client) { return .invalidCredentials }
        guard let expected = accounts[credentials.user] else { return .unknownAccount }
        return XMPPPasswordComparison.constantTimeEqual(expected, credentials.password) ? .valid : .invalidCredentials
    }

    /// Reports a failed login with reading paused; the session answers only with the verdict.
    private func reportFailure(of user: String, verdict: XMPPCredentialVerdict, context: ChannelHandlerContext) {
        guard let client else {
            // No client address (a proxy's header that named none): counted nowhere; the
            // session's own attempt limit still closes the stream.
            perform(session.failureRecorded(closeStream: false, at: .now), context: context)
            return
        }
        let kind: AuthenticationFailure
        switch verdict {
        case .unknownAccount: kind = .unknownAccount
        case .unavailable: kind = .serviceUnavailable
        case .invalidCredentials, .valid: kind = .invalidCredentials
        }
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let verdict = context.eventLoop.makePromise(of: Bool.self)
        let greylist = self.greylist
        verdict.completeWithTask { await Self.judge(greylist: greylist, user: user, client: client, kind: kind) }
        verdict.futureResult.assumeIsolated().whenSuccess { closeStream in
            // The deadline, the client or a shutdown may have closed the stream while the
            // verdict was owed: its context is gone, and nothing is left to answer.
            guard !self.closing else { return }
            self.perform(self.session.failureRecorded(closeStream: closeStream, at: .now), context: context)
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
    }

    /// The verdict, awaited in a function of its own (see the demo's `ClientConnection.judge`).
    private static func judge(greylist: Greylist, user: String, client: IPAddress, kind: AuthenticationFailure) async -> Bool {
        await greylist.recordFailedAuth(user: user, ip: client, kind: kind).closesStream
    }

    private func arm(_ instant: ContinuousClock.Instant?, context: ChannelHandlerContext) {
        deadline?.cancel()
        guard let instant else { return }
        let (seconds, attoseconds) = max(.zero, instant - .now).components
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = context.loopBound
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
            let handler = handler.value
            handler.perform(handler.session.deadlineReached(at: .now), context: boundContext.value)
        }
    }
}
