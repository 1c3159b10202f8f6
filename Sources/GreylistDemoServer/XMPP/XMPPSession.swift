import Foundation

/// One client stream's protocol state, free of sockets: bytes in, outputs out.
///
/// It speaks the RFC 6120 client path: stream header, SASL PLAIN (RFC 4616), stream restart,
/// resource binding, the legacy session iq, XEP-0199 ping, `service-unavailable` for other iqs,
/// and stream errors for bad input. The connection that owns it reports failed logins to the
/// greylist and feeds the outcome back through ``failureRecorded(ban:)``.
struct XMPPSession {
    /// What the connection must do.
    enum Output: Equatable {
        /// Write these bytes.
        case send(String)
        /// A login failed: report it to the greylist, then call ``failureRecorded(ban:)``, which
        /// answers the client. Input stays paused until then, and the client learns of the
        /// failure only once a ban it caused is in place: reconnecting at once is refused.
        case loginFailed(user: String)
        /// A login succeeded.
        case loginSucceeded(user: String)
        /// Close the socket once everything queued is written.
        case close(reason: String)
    }

    private enum Phase: Equatable {
        case awaitingHeader
        case awaitingAuthentication
        case awaitingRestart(user: String)
        case bound(user: String)
        case closed
    }

    let settings: XMPPSettings
    private var parser: XMLStreamParser
    private var phase = Phase.awaitingHeader
    private var headerSent = false
    private var failedAttempts = 0
    /// Parsed events not handled yet because a failed login is being reported.
    private var pending: [XMLStreamEvent] = []
    private var awaitingVerdict = false

    init(settings: XMPPSettings) {
        self.settings = settings
        self.parser = XMLStreamParser(maxStanzaBytes: settings.maxStanzaBytes, maxDepth: settings.maxDepth)
    }

    /// Whether the stream header arrived.
    var hasStream: Bool { phase != .awaitingHeader }
    /// Whether the client authenticated.
    var isAuthenticated: Bool {
        switch phase {
        case .awaitingRestart, .bound: return true
        default: return false
        }
    }
    var isClosed: Bool { phase == .closed }

    /// Consumes bytes from the client.
    mutating func receive(_ bytes: some Collection<UInt8>) -> [Output] {
        guard phase != .closed else { return [] }
        do {
            pending += try parser.feed(bytes)
        } catch {
            return drain() + streamError(error.condition, text: error.explanation)
        }
        return drain()
    }

    /// Handles queued events until the queue is empty, the stream closed, or a failed login
    /// waits for the greylist's verdict.
    private mutating func drain() -> [Output] {
        var outputs: [Output] = []
        while !awaitingVerdict, phase != .closed, !pending.isEmpty {
            outputs += handle(pending.removeFirst())
        }
        return outputs
    }

    /// Continues after a failed login was reported: closes the stream when the source is now
    /// banned or out of attempts.
    mutating func failureRecorded(ban: Bool) -> [Output] {
        awaitingVerdict = false
        let failure = Output.send(saslFailure("not-authorized"))
        if ban {
            return [failure] + streamError("policy-violation", text: "this address is banned")
        }
        if failedAttempts >= settings.maxAuthAttempts {
            return [failure] + streamError("policy-violation", text: "too many failed authentication attempts")
        }
        return [failure] + drain()
    }

    /// Closes the stream with a timeout error.
    mutating func timedOut(_ what: String) -> [Output] {
        streamError("connection-timeout", text: what)
    }

    /// Closes the stream because the server stops.
    mutating func shutDown() -> [Output] {
        streamError("system-shutdown", text: "the server is shutting down")
    }

    // MARK: - Events

    private mutating func handle(_ event: XMLStreamEvent) -> [Output] {
        switch event {
        case .streamOpened(let name, let attributes):
            return openStream(name: name, attributes: attributes)
        case .streamClosed:
            phase = .closed
            return [.send("</stream:stream>"), .close(reason: "client closed the stream")]
        case .stanza(let element):
            switch phase {
            case .awaitingAuthentication:
                return authenticate(element)
            case .bound(let user):
                return serve(element, user: user)
            case .awaitingHeader, .awaitingRestart, .closed:
                return streamError("bad-format", text: "unexpected element")
            }
        }
    }

    private mutating func openStream(name: String, attributes: [String: String]) -> [Output] {
        let prefix = name.split(separator: ":", maxSplits: 1).count == 2 ? String(name.split(separator: ":")[0]) : nil
        let local = name.split(separator: ":").last.map(String.init) ?? name
        let streamNamespace = prefix.map { attributes["xmlns:\($0)"] } ?? attributes["xmlns"]
        guard local == "stream", streamNamespace == XMPPNamespace.streams else {
            return streamError("invalid-namespace", text: "expected <stream:stream> in \(XMPPNamespace.streams)")
        }
        guard attributes["xmlns"] == XMPPNamespace.client else {
            return streamError("invalid-namespace", text: "this server speaks \(XMPPNamespace.client) only")
        }
        guard attributes["version"] == "1.0" else {
            return streamError("unsupported-version", text: "version 1.0 is required")
        }
        if let target = attributes["to"], target.lowercased() != settings.domain.lowercased() {
            return streamError("host-unknown", text: "this server serves \(settings.domain)")
        }
        var outputs = [Output.send(streamHeader())]
        switch phase {
        case .awaitingHeader:
            phase = .awaitingAuthentication
            outputs.append(.send("<stream:features><mechanisms xmlns='\(XMPPNamespace.sasl)'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"))
        case .awaitingRestart(let user):
            phase = .bound(user: user)
            outputs.append(.send("<stream:features><bind xmlns='\(XMPPNamespace.bind)'/><session xmlns='\(XMPPNamespace.session)'><optional/></session></stream:features>"))
        default:
            return streamError("bad-format", text: "unexpected stream header")
        }
        return outputs
    }

    private mutating func authenticate(_ element: XMLElement) -> [Output] {
        guard element.namespace == XMPPNamespace.sasl else {
            return streamError("not-authorized", text: "authenticate first")
        }
        switch element.name {
        case "auth":
            break
        case "abort":
            return [.send(saslFailure("aborted"))]
        default:
            return streamError("not-authorized", text: "authenticate first")
        }
        guard element.attributes["mechanism"] == "PLAIN" else {
            return [.send(saslFailure("invalid-mechanism"))]
        }
        let encoded = element.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !encoded.isEmpty, encoded != "=" else {
            return [.send(saslFailure("malformed-request"))]
        }
        guard let decoded = Data(base64Encoded: encoded) else {
            return [.send(saslFailure("incorrect-encoding"))]
        }
        let parts = decoded.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3,
              let authorization = String(validating: parts[0], as: UTF8.self),
              let user = String(validating: parts[1], as: UTF8.self),
              let password = String(validating: parts[2], as: UTF8.self),
              !user.isEmpty, user.utf8.count <= 1_023 else {
            return [.send(saslFailure("malformed-request"))]
        }
        if !authorization.isEmpty && authorization.lowercased() != "\(user)@\(settings.domain)".lowercased() {
            return [.send(saslFailure("invalid-authzid"))]
        }
        if let expected = settings.users[user], Self.constantTimeEqual(expected, password) {
            phase = .awaitingRestart(user: user)
            parser.reset()
            return [.send("<success xmlns='\(XMPPNamespace.sasl)'/>"), .loginSucceeded(user: user)]
        }
        failedAttempts += 1
        awaitingVerdict = true
        return [.loginFailed(user: user)]
    }

    private mutating func serve(_ element: XMLElement, user: String) -> [Output] {
        guard element.name == "iq" else {
            // Presence and messages are accepted and dropped: the demo has no roster or routing.
            return []
        }
        let type = element.attributes["type"] ?? ""
        guard let id = element.attributes["id"], ["get", "set", "result", "error"].contains(type) else {
            return [.send(iqError(id: element.attributes["id"] ?? "", type: "modify", condition: "bad-request"))]
        }
        guard type == "get" || type == "set" else { return [] }
        if type == "set", let bind = element.child("bind", namespace: XMPPNamespace.bind) {
            let requested = bind.child("resource", namespace: XMPPNamespace.bind)?.text ?? ""
            let chosen = requested.isEmpty || requested.utf8.count > 1_023 ? "greylist-\(UInt32.random(in: 0...UInt32.max))" : requested
            let jid = XMLText.escape("\(user)@\(settings.domain)/\(chosen)")
            return [.send("<iq type='result' id='\(XMLText.escape(id))'><bind xmlns='\(XMPPNamespace.bind)'><jid>\(jid)</jid></bind></iq>")]
        }
        if type == "set", element.child("session", namespace: XMPPNamespace.session) != nil {
            return [.send("<iq type='result' id='\(XMLText.escape(id))'/>")]
        }
        if type == "get", element.child("ping", namespace: XMPPNamespace.ping) != nil {
            return [.send("<iq type='result' id='\(XMLText.escape(id))'/>")]
        }
        return [.send(iqError(id: id, type: "cancel", condition: "service-unavailable"))]
    }

    // MARK: - Writing

    private mutating func streamError(_ condition: String, text: String) -> [Output] {
        guard phase != .closed else { return [] }
        phase = .closed
        let header = headerSent ? "" : streamHeader()
        let error = "<stream:error><\(condition) xmlns='\(XMPPNamespace.streamErrors)'/>"
            + "<text xmlns='\(XMPPNamespace.streamErrors)'>\(XMLText.escape(text))</text></stream:error></stream:stream>"
        return [.send(header + error), .close(reason: "\(condition): \(text)")]
    }

    private mutating func streamHeader() -> String {
        headerSent = true
        let id = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        return "<?xml version='1.0'?><stream:stream xmlns='\(XMPPNamespace.client)' xmlns:stream='\(XMPPNamespace.streams)'"
            + " id='\(id)' from='\(XMLText.escape(settings.domain))' version='1.0' xml:lang='en'>"
    }

    private func saslFailure(_ condition: String) -> String {
        "<failure xmlns='\(XMPPNamespace.sasl)'><\(condition)/></failure>"
    }

    private func iqError(id: String, type: String, condition: String) -> String {
        "<iq type='error' id='\(XMLText.escape(id))'><error type='\(type)'><\(condition) xmlns='\(XMPPNamespace.stanzas)'/></error></iq>"
    }

    /// Compares without an early exit, so timing does not reveal how much of a password matched.
    static func constantTimeEqual(_ expected: String, _ given: String) -> Bool {
        let left = Array(expected.utf8)
        let right = Array(given.utf8)
        var difference = UInt8(left.count == right.count ? 0 : 1)
        for index in 0..<max(left.count, right.count) {
            difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
        }
        return difference == 0
    }
}

/// The XML namespaces the demo speaks.
enum XMPPNamespace {
    static let client = "jabber:client"
    static let streams = "http://etherx.jabber.org/streams"
    static let streamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
    static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    static let session = "urn:ietf:params:xml:ns:xmpp-session"
    static let stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
    static let ping = "urn:xmpp:ping"
}

/// What a session needs from the server's configuration.
struct XMPPSettings: Sendable {
    var domain: String
    var users: [String: String]
    var maxStanzaBytes: Int
    var maxDepth: Int
    var maxAuthAttempts: Int
}
