import GreylistSystem
import Dispatch
import Foundation
import Greylist
import GreylistXMPP

/// The I/O shell of one accepted client: socket reads go into the sans-IO
/// ``XMPPServerSession``; its output is written in one write per batch; its requests go to the
/// account table and the greylist; its deadline arms the connection's one timer.
///
/// `@unchecked Sendable`: every mutable property is read and written only on `queue`, a serial
/// queue this connection owns (the same confinement NIO gives a channel's event loop). The
/// compiler cannot see it because Dispatch's source types are not `Sendable`.
final class ClientConnection: @unchecked Sendable {
    let descriptor: Int32
    let peer: IPAddress
    /// Whether failed and successful logins go to the greylist (see ``AcceptedClient``).
    private let reportsLogins: Bool
    let queue: DispatchQueue
    private let greylist: Greylist
    private let accounts: Accounts
    private let maxOutboxBytes: Int
    private let lingerTimeout: Duration
    private let onAuthenticated: @Sendable (ClientConnection) -> Void
    private let onClose: @Sendable (ClientConnection) -> Void
    private var session: XMPPServerSession
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var timer: DispatchSourceTimer?
    private var armedDeadline: ContinuousClock.Instant?
    /// Reused for every read: the session copies what it keeps, once.
    private var readBuffer = [UInt8](repeating: 0, count: 4_096)
    private var outbox: [UInt8] = []
    /// The client's first bytes, read before this connection began (after a PROXY header).
    private var initialBytes: [UInt8]
    /// While set, the first bytes are held until they show whether they begin a PROXY header,
    /// which a peer that is not a trusted proxy may not send.
    private var screenedPrefix: [UInt8]?
    private let onProxyHeader: (@Sendable (IPAddress) -> Void)?
    private var closeAfterFlush = false
    private var readPaused = false
    private var closed = false

    /// - Parameters:
    ///   - client: The peer, whether its logins are reported, and what it sent after a PROXY
    ///     header (fed to the session first).
    ///   - onProxyHeader: Set to refuse connections that begin with a PROXY header (the peer is
    ///     not a trusted proxy); called with the peer before the connection closes.
    init(descriptor: Int32, client: AcceptedClient, greylist: Greylist, settings: XMPPSessionSettings, accounts: Accounts,
         maxOutboxBytes: Int, queue: DispatchQueue, onProxyHeader: (@Sendable (IPAddress) -> Void)? = nil,
         onAuthenticated: @escaping @Sendable (ClientConnection) -> Void, onClose: @escaping @Sendable (ClientConnection) -> Void) {
        self.initialBytes = client.initialBytes
        self.reportsLogins = client.reportsLogins
        self.onProxyHeader = onProxyHeader
        self.screenedPrefix = onProxyHeader == nil ? nil : []
        self.onAuthenticated = onAuthenticated
        self.descriptor = descriptor
        self.peer = client.address
        self.greylist = greylist
        self.accounts = accounts
        self.maxOutboxBytes = maxOutboxBytes
        self.lingerTimeout = settings.headerTimeout
        self.queue = queue
        self.onClose = onClose
        self.session = XMPPServerSession(settings: settings, now: .now)
    }

    /// Starts reading and arms the first deadline. Call once.
    func start() {
        queue.async { [self] in
            let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            source.setEventHandler { [self] in readAvailable() }
            readSource = source
            source.resume()
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [self] in deadlineReached() }
            self.timer = timer
            timer.resume()
            arm(session.nextDeadline)
            if !initialBytes.isEmpty {
                let bytes = initialBytes
                initialBytes = []
                if screenedPrefix != nil { screen(bytes) } else { deliver(bytes) }
            }
        }
    }

    /// Ends the stream with `system-shutdown`.
    func shutDown() {
        queue.async { [self] in perform(session.shutDown()) }
    }

    /// Reads until the socket has nothing more (`EAGAIN`), the stream closes, or the session
    /// waits for the host: the read source may report data and the end of the stream as one
    /// event, so one read per event could leave a closed peer unnoticed. At most 16 reads per
    /// turn; the rest is read in a later turn of the queue, so one client cannot hold it.
    private func readAvailable() {
        for _ in 0..<16 {
            guard !closed, !readPaused else { return }
            let count = readBuffer.withUnsafeMutableBytes { Syscalls.read(descriptor, into: $0) }
            if count > 0 {
                if screenedPrefix != nil {
                    screen(Array(readBuffer[..<count]))
                } else {
                    let output = readBuffer.withUnsafeBytes { session.receive(UnsafeRawBufferPointer(rebasing: $0[..<count]), at: .now) }
                    perform(output)
                }
            } else if count == 0 || (Syscalls.errorNumber != EAGAIN && Syscalls.errorNumber != EWOULDBLOCK) {
                // End of stream or a reset: nothing more can be said to this client.
                close()
                return
            } else {
                return
            }
        }
        queue.async { [self] in readAvailable() }
    }

    /// Holds the first bytes until they show whether a PROXY header begins (at most 12 bytes
    /// decide), then refuses the connection or hands them to the session.
    private func screen(_ bytes: [UInt8]) {
        let prefix = (screenedPrefix ?? []) + bytes
        switch ProxyHeaderParser.startsLikeHeader(prefix) {
        case true?:
            screenedPrefix = nil
            onProxyHeader?(peer)
            close()
        case nil:
            screenedPrefix = prefix
        case false?:
            screenedPrefix = nil
            deliver(prefix)
        }
    }

    private func deliver(_ bytes: [UInt8]) {
        perform(bytes.withUnsafeBytes { session.receive($0, at: .now) })
    }

    /// Runs the deadline check as if the timer fired at `instant` (for tests: a deadline that
    /// has passed without waiting for it).
    func deadlineReached(asOf instant: ContinuousClock.Instant) {
        queue.async { [self] in
            guard !closed else { return }
            perform(session.deadlineReached(at: instant))
        }
    }

    private func deadlineReached() {
        armedDeadline = nil
        if closeAfterFlush {
            // A client that stopped reading cannot hold the close forever.
            close()
            return
        }
        perform(session.deadlineReached(at: .now))
    }

    /// Carries out one output of the session: one write, its requests, its deadline, its close.
    private func perform(_ output: XMPPSessionOutput) {
        guard !closed else { return }
        // Counted as logged in before the client can read its <success/>: a new connection it
        // opens the moment it does must find the unauthenticated slot free.
        if output.requests.contains(where: { if case .reportSuccess = $0 { true } else { false } }) { onAuthenticated(self) }
        if !output.bytes.isEmpty { send(output.bytes) }
        for request in output.requests {
            switch request {
            case .checkCredentials(let credentials):
                // A shared address whose guesses at this account are spent: not checked at all.
                let verifies = !reportsLogins || greylist.shouldVerify(user: credentials.user, ip: peer)
                perform(session.credentialsChecked(verifies ? accounts.verdict(for: credentials) : .invalidCredentials, at: .now))
            case .reportFailure(let user, let verdict):
                report(failureOf: user, verdict: verdict)
            case .reportSuccess(let user):
                guard reportsLogins else { continue }
                Task { [greylist, peer] in await greylist.recordSuccessfulAuth(user: user, ip: peer) }
            case .startTLS:
                // The demo offers no TLS (`offersStartTLS` is off), so its sessions never ask.
                close()
                return
            }
        }
        if output.closes {
            closeAfterFlush = true
            if outbox.isEmpty {
                close()
            } else {
                arm(.now + lingerTimeout)
            }
        } else if !closeAfterFlush {
            arm(session.nextDeadline)
        }
    }

    /// Reports a failed login to the greylist with reading paused; the session answers the
    /// client only with the verdict in hand.
    private func report(failureOf user: String, verdict: XMPPCredentialVerdict) {
        guard reportsLogins else {
            // The proxy's own address: counted nowhere (the session still limits the stream).
            return perform(session.failureRecorded(closeStream: false, at: .now))
        }
        pauseReading()
        let kind: AuthenticationFailure
        switch verdict {
        case .unknownAccount: kind = .unknownAccount
        case .unavailable: kind = .serviceUnavailable
        case .invalidCredentials, .valid: kind = .invalidCredentials
        }
        Task { [greylist, peer, queue] in
            let closeStream = await Self.judge(greylist: greylist, user: user, peer: peer, kind: kind)
            queue.async { [weak self] in
                // The deadline, the client or a stop may have closed the connection while the
                // verdict was owed: nothing is left to answer or to resume.
                guard let self, !closed else { return }
                resumeReading()
                perform(session.failureRecorded(closeStream: closeStream, at: .now))
            }
        }
    }

    /// The greylist's verdict on a failed login: whether to close the stream now.
    ///
    /// A function of its own on purpose: with Swift 6.3.1, awaiting `recordFailedAuth` (whose
    /// result is a multi-payload enum) directly inside the `Task` closure above overwrote the
    /// closure's async frame and crashed (null resume function; found by the demo tests, seen
    /// under ASan and gdb). Awaiting it here and passing back a `Bool` is sound.
    private static func judge(greylist: Greylist, user: String, peer: IPAddress, kind: AuthenticationFailure) async -> Bool {
        await greylist.recordFailedAuth(user: user, ip: peer, kind: kind).closesStream
    }

    /// Points the one timer at `deadline`; nothing to do when it already points there.
    private func arm(_ deadline: ContinuousClock.Instant?) {
        guard deadline != armedDeadline, let timer else { return }
        armedDeadline = deadline
        guard let deadline else {
            timer.schedule(deadline: .distantFuture)
            return
        }
        let (seconds, attoseconds) = max(.zero, deadline - .now).components
        let nanoseconds = Int(clamping: seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), leeway: .milliseconds(10))
    }

    private func send(_ bytes: [UInt8]) {
        outbox += bytes
        guard outbox.count <= maxOutboxBytes else {
            // The client does not read what it asks for: drop it rather than buffer without bound.
            close()
            return
        }
        flush()
    }

    /// Writes the outbox with one `send` when the socket takes it all (the usual case).
    private func flush() {
        while !outbox.isEmpty {
            let written = outbox.withUnsafeBytes { Syscalls.write(descriptor, $0) }
            if written > 0 {
                outbox.removeFirst(written)
            } else if written < 0 && (Syscalls.errorNumber == EAGAIN || Syscalls.errorNumber == EWOULDBLOCK) {
                waitUntilWritable()
                return
            } else {
                close()
                return
            }
        }
        writeSource?.cancel()
        writeSource = nil
        if closeAfterFlush { close() }
    }

    private func waitUntilWritable() {
        guard writeSource == nil else { return }
        let source = DispatchSource.makeWriteSource(fileDescriptor: descriptor, queue: queue)
        source.setEventHandler { [self] in flush() }
        writeSource = source
        source.resume()
    }

    private func pauseReading() {
        guard !readPaused else { return }
        readPaused = true
        readSource?.suspend()
    }

    private func resumeReading() {
        guard readPaused else { return }
        readPaused = false
        readSource?.resume()
        // Bytes (or the end of the stream) that arrived while paused may already have been
        // signalled: look now rather than wait for an event that may not come again.
        queue.async { [self] in readAvailable() }
    }

    private func close() {
        guard !closed else { return }
        closed = true
        timer?.cancel()
        writeSource?.cancel()
        // A suspended source must be resumed once to be cancelled; the flag goes with it, so a
        // verdict arriving later cannot resume it a second time (libdispatch traps on that).
        if readPaused {
            readPaused = false
            readSource?.resume()
        }
        // The descriptor is closed when the read source's cancellation completes, so Dispatch
        // never watches a number the kernel has already given to a new connection.
        if let readSource {
            readSource.setCancelHandler { [descriptor] in Syscalls.close(descriptor) }
            readSource.cancel()
        } else {
            Syscalls.close(descriptor)
        }
        onClose(self)
    }
}
