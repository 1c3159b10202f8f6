#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One client stream's protocol state, sans-IO: bytes and answers in, ``XMPPSessionOutput`` out.
///
/// It speaks the RFC 6120 client path: stream header, STARTTLS when the host offers TLS (§5;
/// PLAIN is then offered only on an encrypted stream), SASL PLAIN (RFC 4616), stream restart,
/// resource binding, the legacy session iq, XEP-0199 ping, `service-unavailable` for other iqs,
/// and stream errors for bad input. It owns no socket, clock, random source or credential store:
/// every call takes the current instant, stream ids and generated resources come from the
/// injected generator, and credentials are checked by the host through
/// ``XMPPSessionRequest/checkCredentials(_:)``. Deadlines come out as ``XMPPSessionOutput/deadline``,
/// so a shell arms one timer per connection.
///
/// ```swift
/// var session = XMPPServerSession(settings: XMPPSessionSettings(domain: "example.org"), now: .now)
/// let output = session.receive(bytesFromSocket, at: .now)
/// socket.write(output.bytes)   // one write per call
/// for request in output.requests { /* check credentials, report failures */ }
/// ```
public struct XMPPServerSession: Sendable {
    enum Phase: Equatable {
        case awaitingHeader
        case awaitingStartTLS
        case awaitingAuthentication
        case awaitingRestart(user: String)
        case bound(user: String)
        case closed
    }

    /// What input waits for.
    enum Waiting: Equatable {
        case nothing
        case credentials(XMPPCredentials)
        /// A failed login waits for the greylist; the SASL condition to answer with then.
        case failureVerdict(condition: String)
        case tlsHandshake
    }

    /// The settings the session was made with.
    public let settings: XMPPSessionSettings
    private var parser: XMLStreamParser
    var identifiers: any RandomNumberGenerator & Sendable
    var phase = Phase.awaitingHeader
    var waiting = Waiting.nothing
    var headerSent = false
    /// Whether the stream runs over TLS (direct TLS from the start, or after STARTTLS).
    public private(set) var isEncrypted: Bool
    private var failedAttempts = 0
    /// Set once the greylist banned this stream's source: further logins on it are refused
    /// unchecked. The stream is not closed at once, since whether a failure bans depends on
    /// whether the account exists, and the client must not learn that from its answer.
    private var refusesLogins = false
    /// Parsed events not handled yet because the session waits for the host.
    private var pending: [XMLStreamEvent] = []
    private var pendingIndex = 0
    private let startedAt: ContinuousClock.Instant
    private var lastActivity: ContinuousClock.Instant

    /// Creates a session for a connection accepted at `now`.
    ///
    /// - Parameters:
    ///   - settings: Domain, bounds and deadlines.
    ///   - now: The instant the connection was accepted; the header and login deadlines count from it.
    ///   - identifiers: Where stream ids and generated resources come from; tests pass a seeded one.
    ///   - encrypted: Whether the connection is TLS from its first byte (XEP-0368 direct TLS).
    public init(settings: XMPPSessionSettings, now: ContinuousClock.Instant,
                identifiers: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(), encrypted: Bool = false) {
        self.settings = settings
        self.isEncrypted = encrypted
        self.parser = XMLStreamParser(maxStanzaBytes: settings.maxStanzaBytes, maxDepth: settings.maxDepth)
        self.identifiers = identifiers
        self.startedAt = now
        self.lastActivity = now
    }

    /// Whether the stream header arrived.
    public var hasStream: Bool { phase != .awaitingHeader }
    /// Whether the client authenticated.
    public var isAuthenticated: Bool {
        switch phase {
        case .awaitingRestart, .bound: return true
        default: return false
        }
    }
    /// Whether the stream is over; the shell closes once its output is written.
    public var isClosed: Bool { phase == .closed }

    /// The instant the shell's timer should fire next; `nil` once closed. The header and login
    /// deadlines count from the start, not from the last byte, so trickling bytes cannot keep a
    /// stream alive.
    public var nextDeadline: ContinuousClock.Instant? {
        guard phase != .closed else { return nil }
        var deadline = lastActivity + settings.idleTimeout
        if !hasStream { deadline = min(deadline, startedAt + settings.headerTimeout) }
        if !isAuthenticated { deadline = min(deadline, startedAt + settings.authTimeout) }
        return deadline
    }

    // MARK: - Inputs

    /// Continues after ``XMPPSessionRequest/startTLS``: the TLS handshake is done; the client
    /// opens a new stream over it.
    ///
    /// - Parameter now: The current instant.
    /// - Returns: The next deadline.
    public mutating func tlsEstablished(at now: ContinuousClock.Instant) -> XMPPSessionOutput {
        guard waiting == .tlsHandshake, phase != .closed else { return finish(XMPPSessionOutput()) }
        waiting = .nothing
        isEncrypted = true
        lastActivity = now
        return finish(XMPPSessionOutput())
    }

    /// Consumes bytes from the client.
    ///
    /// - Parameters:
    ///   - bytes: What the socket delivered, borrowed; copied once into the parser's buffer.
    ///   - now: The current instant.
    /// - Returns: What to write, ask and arm.
    public mutating func receive(_ bytes: some Collection<UInt8>, at now: ContinuousClock.Instant) -> XMPPSessionOutput {
        var output = XMPPSessionOutput()
        guard phase != .closed, waiting != .tlsHandshake else { return finish(output) }
        lastActivity = now
        do {
            pending += try parser.feed(bytes)
        } catch {
            drain(into: &output)
            streamError(error.condition, text: error.explanation, into: &output)
            return finish(output)
        }
        drain(into: &output)
        return finish(output)
    }

    /// Continues after the host checked the credentials of ``XMPPSessionRequest/checkCredentials(_:)``.
    ///
    /// - Parameters:
    ///   - verdict: The host's answer.
    ///   - now: The current instant.
    /// - Returns: On success the SASL success and ``XMPPSessionRequest/reportSuccess(user:)``;
    ///   otherwise ``XMPPSessionRequest/reportFailure(user:verdict:)``, with input still paused.
    public mutating func credentialsChecked(_ verdict: XMPPCredentialVerdict, at now: ContinuousClock.Instant) -> XMPPSessionOutput {
        var output = XMPPSessionOutput()
        guard case .credentials(let credentials) = waiting, phase != .closed else { return finish(output) }
        if verdict == .valid {
            waiting = .nothing
            phase = .awaitingRestart(user: credentials.user)
            parser.reset()
            pending.removeAll()
            pendingIndex = 0
            append("<success xmlns='\(XMPPNamespace.sasl)'/>", to: &output)
            output.requests.append(.reportSuccess(user: credentials.user))
            return finish(output)
        }
        if verdict != .unavailable { failedAttempts += 1 }
        waiting = .failureVerdict(condition: "not-authorized")
        output.requests.append(.reportFailure(user: credentials.user, verdict: verdict))
        return finish(output)
    }

    /// Continues after a failed login was reported: answers the client, and closes the stream
    /// when it is out of attempts.
    ///
    /// The answer does not depend on the verdict: a failure that bans is answered as one that
    /// does not, since whether a failure bans depends on whether the account exists (a botnet
    /// could otherwise sort a list of names, one ban per probe). A banned source's stream stays
    /// open until its attempts run out, but every further login on it is refused unchecked; its
    /// next connection is refused at accept.
    ///
    /// - Parameters:
    ///   - closeStream: The greylist's verdict (`FailureOutcome.closesStream`): the source is
    ///     banned, so no further login on this stream is checked.
    ///   - now: The current instant.
    /// - Returns: The SASL failure, then what queued input produces (or the stream's end).
    public mutating func failureRecorded(closeStream: Bool, at now: ContinuousClock.Instant) -> XMPPSessionOutput {
        var output = XMPPSessionOutput()
        guard case .failureVerdict(let condition) = waiting, phase != .closed else { return finish(output) }
        waiting = .nothing
        if closeStream { refusesLogins = true }
        append(saslFailure(condition), to: &output)
        if failedAttempts >= settings.maxAuthAttempts {
            streamError("policy-violation", text: "too many failed authentication attempts", into: &output)
        } else {
            drain(into: &output)
        }
        return finish(output)
    }

    /// Handles the shell's timer: closes the stream with `connection-timeout` when a deadline
    /// passed, or returns the next deadline when the timer fired early.
    ///
    /// - Parameter now: The current instant.
    /// - Returns: The stream error and close, or only the next deadline.
    public mutating func deadlineReached(at now: ContinuousClock.Instant) -> XMPPSessionOutput {
        var output = XMPPSessionOutput()
        guard phase != .closed else { return finish(output) }
        if !hasStream && now >= startedAt + settings.headerTimeout {
            streamError("connection-timeout", text: "no stream header within \(settings.headerTimeout.shortText)", into: &output)
        } else if !isAuthenticated && now >= startedAt + settings.authTimeout {
            streamError("connection-timeout", text: "no authentication within \(settings.authTimeout.shortText)", into: &output)
        } else if now >= lastActivity + settings.idleTimeout {
            streamError("connection-timeout", text: "idle for \(settings.idleTimeout.shortText)", into: &output)
        }
        return finish(output)
    }

    /// Ends the stream with `system-shutdown` because the server stops.
    ///
    /// - Returns: The stream error and close.
    public mutating func shutDown() -> XMPPSessionOutput {
        var output = XMPPSessionOutput()
        streamError("system-shutdown", text: "the server is shutting down", into: &output)
        return finish(output)
    }

    private func finish(_ output: XMPPSessionOutput) -> XMPPSessionOutput {
        var output = output
        output.deadline = nextDeadline
        return output
    }

    // MARK: - Events

    /// Handles queued events until none is left, the stream closed, or the host must answer.
    private mutating func drain(into output: inout XMPPSessionOutput) {
        while waiting == .nothing, phase != .closed, pendingIndex < pending.count {
            let event = pending[pendingIndex]
            pendingIndex += 1
            handle(event, into: &output)
        }
        if pendingIndex == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingIndex = 0
        }
    }

    private mutating func handle(_ event: XMLStreamEvent, into output: inout XMPPSessionOutput) {
        switch event {
        case .streamOpened(let name, let attributes):
            openStream(name: name, attributes: attributes, into: &output)
        case .streamClosed:
            phase = .closed
            append("</stream:stream>", to: &output)
            output.closeReason = "client closed the stream"
        case .stanza(let element):
            switch phase {
            case .awaitingStartTLS:
                startTLS(element, into: &output)
            case .awaitingAuthentication:
                authenticate(element, into: &output)
            case .bound(let user):
                serve(element, user: user, into: &output)
            case .awaitingHeader, .awaitingRestart, .closed:
                streamError("bad-format", text: "unexpected element", into: &output)
            }
        }
    }

    private mutating func openStream(name: String, attributes: [String: String], into output: inout XMPPSessionOutput) {
        let parts = name.split(separator: ":", maxSplits: 1)
        let prefix = parts.count == 2 ? String(parts[0]) : nil
        let local = parts.last.map(String.init) ?? name
        let streamNamespace = prefix.map { attributes["xmlns:\($0)"] } ?? attributes["xmlns"]
        guard local == "stream", streamNamespace == XMPPNamespace.streams else {
            return streamError("invalid-namespace", text: "expected <stream:stream> in \(XMPPNamespace.streams)", into: &output)
        }
        guard attributes["xmlns"] == XMPPNamespace.client else {
            return streamError("invalid-namespace", text: "this server speaks \(XMPPNamespace.client) only", into: &output)
        }
        guard attributes["version"] == "1.0" else {
            return streamError("unsupported-version", text: "version 1.0 is required", into: &output)
        }
        if let target = attributes["to"], target.lowercased() != settings.domain.lowercased() {
            return streamError("host-unknown", text: "this server serves \(settings.domain)", into: &output)
        }
        switch phase {
        case .awaitingHeader:
            append(streamHeader(), to: &output)
            if settings.offersStartTLS && !isEncrypted {
                phase = .awaitingStartTLS
                append("<stream:features><starttls xmlns='\(XMPPNamespace.tls)'><required/></starttls></stream:features>", to: &output)
            } else {
                phase = .awaitingAuthentication
                append("<stream:features><mechanisms xmlns='\(XMPPNamespace.sasl)'><mechanism>PLAIN</mechanism></mechanisms></stream:features>", to: &output)
            }
        case .awaitingRestart(let user):
            append(streamHeader(), to: &output)
            phase = .bound(user: user)
            append("<stream:features><bind xmlns='\(XMPPNamespace.bind)'/><session xmlns='\(XMPPNamespace.session)'><optional/></session></stream:features>", to: &output)
        default:
            streamError("bad-format", text: "unexpected stream header", into: &output)
        }
    }

    /// `<starttls/>`: `<proceed/>`, then the host's handshake, then a new stream. Anything else
    /// first is refused: this server requires TLS before a password is sent.
    private mutating func startTLS(_ element: XMPPElement, into output: inout XMPPSessionOutput) {
        guard element.namespace == XMPPNamespace.tls, element.name == "starttls" else {
            return streamError("policy-violation", text: "STARTTLS is required first", into: &output)
        }
        append("<proceed xmlns='\(XMPPNamespace.tls)'/>", to: &output)
        output.requests.append(.startTLS)
        waiting = .tlsHandshake
        phase = .awaitingHeader
        headerSent = false
        parser.reset()
        pending.removeAll()
        pendingIndex = 0
    }

    private mutating func authenticate(_ element: XMPPElement, into output: inout XMPPSessionOutput) {
        guard element.namespace == XMPPNamespace.sasl else {
            return streamError("not-authorized", text: "authenticate first", into: &output)
        }
        switch element.name {
        case "auth":
            break
        case "abort":
            return append(saslFailure("aborted"), to: &output)
        default:
            return streamError("not-authorized", text: "authenticate first", into: &output)
        }
        guard element.attributes["mechanism"] == "PLAIN" else {
            return append(saslFailure("invalid-mechanism"), to: &output)
        }
        // Trimmed and measured on bytes: whitespace around base64 is allowed, and a payload
        // larger than any PLAIN login is refused before it is decoded.
        let encoded = XMLText.trimmingWhitespace(element.text.utf8)
        guard !encoded.isEmpty, encoded.count <= settings.maxSASLPayloadBytes, encoded != [UInt8(ascii: "=")] else {
            return malformedLogin("malformed-request", into: &output)
        }
        guard let decoded = Data(base64Encoded: Data(encoded)) else {
            return malformedLogin("incorrect-encoding", into: &output)
        }
        let parts = decoded.split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3,
              let authorization = String(validating: parts[0], as: UTF8.self),
              let user = String(validating: parts[1], as: UTF8.self),
              let password = String(validating: parts[2], as: UTF8.self),
              !user.isEmpty, user.utf8.count <= 1_023 else {
            return malformedLogin("malformed-request", into: &output)
        }
        if !authorization.isEmpty && authorization.lowercased() != "\(user)@\(settings.domain)".lowercased() {
            return malformedLogin("invalid-authzid", into: &output)
        }
        if refusesLogins {
            // The source is banned: refused unchecked, answered as a wrong password is.
            failedAttempts += 1
            append(saslFailure("not-authorized"), to: &output)
            if failedAttempts >= settings.maxAuthAttempts {
                streamError("policy-violation", text: "too many failed authentication attempts", into: &output)
            }
            return
        }
        let credentials = XMPPCredentials(user: user, password: password, authorizationIdentity: authorization.isEmpty ? nil : authorization)
        waiting = .credentials(credentials)
        output.requests.append(.checkCredentials(credentials))
    }

    /// A login that names no account (bad encoding, no NUL separators, a wrong authorization
    /// identity): counted as a failed attempt on the stream and reported to the host as a
    /// failure on an unknown account with an empty name, so a client cannot spend the server's
    /// time on malformed logins without limit.
    private mutating func malformedLogin(_ condition: String, into output: inout XMPPSessionOutput) {
        failedAttempts += 1
        if refusesLogins {
            append(saslFailure(condition), to: &output)
            if failedAttempts >= settings.maxAuthAttempts {
                streamError("policy-violation", text: "too many failed authentication attempts", into: &output)
            }
            return
        }
        waiting = .failureVerdict(condition: condition)
        output.requests.append(.reportFailure(user: "", verdict: .unknownAccount))
    }

    private mutating func serve(_ element: XMPPElement, user: String, into output: inout XMPPSessionOutput) {
        guard element.name == "iq" else {
            // Presence and messages are accepted and dropped: the engine has no roster or routing.
            return
        }
        let type = element.attributes["type"] ?? ""
        guard let id = element.attributes["id"], ["get", "set", "result", "error"].contains(type) else {
            return append(iqError(id: element.attributes["id"] ?? "", type: "modify", condition: "bad-request"), to: &output)
        }
        guard type == "get" || type == "set" else { return }
        if type == "set", let bind = element.child("bind", namespace: XMPPNamespace.bind) {
            let requested = bind.child("resource", namespace: XMPPNamespace.bind)?.text ?? ""
            let chosen = requested.isEmpty || requested.utf8.count > 1_023
                ? "greylist-\(UInt32.random(in: 0...UInt32.max, using: &identifiers))" : requested
            let jid = XMLText.escape("\(user)@\(settings.domain)/\(chosen)")
            return append("<iq type='result' id='\(XMLText.escape(id))'><bind xmlns='\(XMPPNamespace.bind)'><jid>\(jid)</jid></bind></iq>", to: &output)
        }
        if type == "set", element.child("session", namespace: XMPPNamespace.session) != nil {
            return append("<iq type='result' id='\(XMLText.escape(id))'/>", to: &output)
        }
        if type == "get", element.child("ping", namespace: XMPPNamespace.ping) != nil {
            return append("<iq type='result' id='\(XMLText.escape(id))'/>", to: &output)
        }
        append(iqError(id: id, type: "cancel", condition: "service-unavailable"), to: &output)
    }
}
