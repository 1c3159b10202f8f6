import Dispatch
import Foundation
import Glibc
import Greylist

/// One accepted client socket: reads feed the XMPP session, outputs are written back, failed
/// logins go to the greylist, and deadlines close streams that stall.
///
/// `@unchecked Sendable`: every mutable property is read and written only on `queue`, a serial
/// queue this connection owns (the same confinement NIO gives a channel's event loop). The
/// compiler cannot see it because Dispatch's source types are not `Sendable`.
final class Connection: @unchecked Sendable {
    let descriptor: Int32
    let peer: IPAddress
    let queue: DispatchQueue
    private let greylist: Greylist
    private let limits: ConnectionLimits
    private let onClose: @Sendable (Connection) -> Void
    private var session: XMPPSession
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var timer: DispatchSourceTimer?
    private var outbox: [UInt8] = []
    private var closeAfterFlush = false
    private var readPaused = false
    private var closed = false
    private let openedAt = DispatchTime.now()
    private var lastActivity = DispatchTime.now()

    init(descriptor: Int32, peer: IPAddress, greylist: Greylist, settings: XMPPSettings, limits: ConnectionLimits,
         queue: DispatchQueue, onClose: @escaping @Sendable (Connection) -> Void) {
        self.descriptor = descriptor
        self.peer = peer
        self.greylist = greylist
        self.limits = limits
        self.queue = queue
        self.onClose = onClose
        self.session = XMPPSession(settings: settings)
    }

    /// Starts reading and arms the deadlines. Call once.
    func start() {
        queue.async { [self] in
            let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            source.setEventHandler { [self] in readAvailable() }
            readSource = source
            source.resume()
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [self] in checkDeadlines() }
            timer.schedule(deadline: .now() + limits.timerResolution, repeating: limits.timerResolution)
            self.timer = timer
            timer.resume()
        }
    }

    /// Ends the stream with `system-shutdown`.
    func shutDown() {
        queue.async { [self] in perform(session.shutDown()) }
    }

    private func readAvailable() {
        var chunk = [UInt8](repeating: 0, count: 4_096)
        let count = chunk.withUnsafeMutableBytes { Syscalls.read(descriptor, into: $0) }
        if count > 0 {
            lastActivity = .now()
            perform(session.receive(chunk[..<count]))
        } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
            // End of stream or a reset: nothing more can be said to this client.
            close()
        }
    }

    private func perform(_ outputs: [XMPPSession.Output]) {
        for output in outputs {
            switch output {
            case .send(let text):
                send(Array(text.utf8))
            case .loginFailed(let user):
                pauseReading()
                let greylist = greylist
                let peer = peer
                let queue = queue
                Task {
                    let outcome = await greylist.recordFailedAuth(user: user, ip: peer)
                    let banned = outcome.isBanned && !greylist.isDryRun
                    queue.async { [weak self] in
                        guard let self else { return }
                        resumeReading()
                        perform(session.failureRecorded(ban: banned))
                    }
                }
            case .loginSucceeded(let user):
                Task { [greylist, peer] in await greylist.recordSuccessfulAuth(user: user, ip: peer) }
            case .close:
                closeAfterFlush = true
                if outbox.isEmpty { close() }
            }
        }
    }

    private func send(_ bytes: [UInt8]) {
        guard !closed else { return }
        outbox += bytes
        guard outbox.count <= limits.maxOutboxBytes else {
            // The client does not read what it asks for: drop it rather than buffer without bound.
            close()
            return
        }
        flush()
    }

    private func flush() {
        while !outbox.isEmpty {
            let written = outbox.withUnsafeBytes { Syscalls.write(descriptor, $0) }
            if written > 0 {
                outbox.removeFirst(written)
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
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
    }

    /// Closes streams that missed a deadline. The header and authentication deadlines count from
    /// the accept, not from the last byte, so trickling bytes cannot keep a stream alive.
    private func checkDeadlines() {
        let now = DispatchTime.now()
        if !session.hasStream && now >= openedAt + limits.headerTimeout {
            perform(session.timedOut("no stream header within \(limits.headerTimeoutText)"))
        } else if !session.isAuthenticated && now >= openedAt + limits.authTimeout {
            perform(session.timedOut("no authentication within \(limits.authTimeoutText)"))
        } else if now >= lastActivity + limits.idleTimeout {
            perform(session.timedOut("idle for \(limits.idleTimeoutText)"))
        }
        if closeAfterFlush && !closed && now >= lastActivity + limits.headerTimeout {
            // A client that stopped reading cannot block the close forever.
            close()
        }
    }

    private func close() {
        guard !closed else { return }
        closed = true
        timer?.cancel()
        writeSource?.cancel()
        if readPaused { readSource?.resume() }
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

/// The per-connection bounds and deadlines.
struct ConnectionLimits: Sendable {
    var headerTimeout: DispatchTimeInterval
    var authTimeout: DispatchTimeInterval
    var idleTimeout: DispatchTimeInterval
    var headerTimeoutText: String
    var authTimeoutText: String
    var idleTimeoutText: String
    var maxOutboxBytes: Int
    var timerResolution: DispatchTimeInterval
}
