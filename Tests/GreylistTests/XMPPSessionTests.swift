import Foundation
import Testing
@testable import GreylistDemoServer

@Suite struct XMPPSessionTests {
    let settings = XMPPSettings(domain: "localhost", users: ["demo": "secret"], maxStanzaBytes: 4_096, maxDepth: 8, maxAuthAttempts: 2)
    static let header = "<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

    func auth(_ user: String, _ password: String) -> String {
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("\0\(user)\0\(password)".utf8).base64EncodedString())</auth>"
    }

    func sent(_ outputs: [XMPPSession.Output]) -> String {
        outputs.compactMap { if case .send(let text) = $0 { return text } else { return nil } }.joined()
    }

    @Test("logs in with PLAIN, restarts, binds and answers session and ping")
    func login() {
        var session = XMPPSession(settings: settings)
        #expect(sent(session.receive(Array(Self.header.utf8))).contains("<mechanism>PLAIN</mechanism>"))
        let success = session.receive(Array(auth("demo", "secret").utf8))
        #expect(success.contains(.loginSucceeded(user: "demo")))
        #expect(session.isAuthenticated)
        #expect(sent(session.receive(Array(Self.header.utf8))).contains("urn:ietf:params:xml:ns:xmpp-bind"))
        let bound = sent(session.receive(Array("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>".utf8)))
        #expect(bound.contains("<jid>demo@localhost/phone</jid>"))
        #expect(sent(session.receive(Array("<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>".utf8))) == "<iq type='result' id='s'/>")
        #expect(sent(session.receive(Array("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>".utf8))) == "<iq type='result' id='p'/>")
        #expect(sent(session.receive(Array("<iq type='get' id='v'><query xmlns='jabber:iq:version'/></iq>".utf8))).contains("service-unavailable"))
        let closing = session.receive(Array("</stream:stream>".utf8))
        #expect(sent(closing) == "</stream:stream>")
        #expect(session.isClosed)
    }

    @Test("a failed login reports the user and waits for the greylist; a ban closes the stream")
    func failedLogin() {
        var session = XMPPSession(settings: settings)
        _ = session.receive(Array(Self.header.utf8))
        // Two attempts in one read: the second waits until the first is judged.
        let outputs = session.receive(Array((auth("bad_user_12345", "x") + auth("demo", "secret")).utf8))
        #expect(outputs.contains(.loginFailed(user: "bad_user_12345")))
        #expect(!outputs.contains(.loginSucceeded(user: "demo")))
        #expect(!sent(outputs).contains("<failure"), "the client hears of the failure only after the verdict")
        let banned = session.failureRecorded(ban: true)
        #expect(sent(banned).hasPrefix("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"))
        #expect(sent(banned).contains("<policy-violation"))
        #expect(session.isClosed)
    }

    @Test("queued input resumes after a failure that did not ban; too many failures close the stream")
    func attempts() {
        var session = XMPPSession(settings: settings)
        _ = session.receive(Array(Self.header.utf8))
        _ = session.receive(Array((auth("demo", "wrong") + auth("demo", "secret")).utf8))
        #expect(session.failureRecorded(ban: false).contains(.loginSucceeded(user: "demo")))

        var other = XMPPSession(settings: settings)
        _ = other.receive(Array(Self.header.utf8))
        _ = other.receive(Array(auth("demo", "wrong").utf8))
        #expect(sent(other.failureRecorded(ban: false)) == "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>")
        _ = other.receive(Array(auth("demo", "wrong").utf8))
        #expect(sent(other.failureRecorded(ban: false)).contains("too many failed authentication attempts"))
    }

    @Test("answers bad SASL input with the RFC 6120 failure conditions", arguments: [
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'>abc</auth>", "invalid-mechanism"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!not base64</auth>", "incorrect-encoding"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("no-separators".utf8).base64EncodedString())</auth>", "malformed-request"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>=</auth>", "malformed-request"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("eve@localhost\0demo\0secret".utf8).base64EncodedString())</auth>", "invalid-authzid"),
    ])
    func saslFailures(input: String, condition: String) {
        var session = XMPPSession(settings: settings)
        _ = session.receive(Array(Self.header.utf8))
        let outputs = session.receive(Array(input.utf8))
        #expect(sent(outputs).contains("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><\(condition)/></failure>"))
        #expect(!session.isClosed)
    }

    @Test("answers a bad stream header with the fitting stream error and closes", arguments: [
        ("<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' version='1.0'>", "invalid-namespace"),
        ("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", "invalid-namespace"),
        ("<html>", "invalid-namespace"),
        ("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", "unsupported-version"),
        ("<stream:stream to='example.org' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", "host-unknown"),
        ("GET / HTTP/1.1\r\n\r\n", "not-well-formed"),
    ])
    func badHeaders(input: String, condition: String) {
        var session = XMPPSession(settings: settings)
        let outputs = session.receive(Array(input.utf8))
        let text = sent(outputs)
        #expect(text.hasPrefix("<?xml version='1.0'?><stream:stream"))
        #expect(text.contains("<\(condition) xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"))
        #expect(outputs.contains { if case .close = $0 { return true } else { return false } })
        #expect(session.isClosed)
    }

    @Test("a stanza before authentication is not authorized")
    func stanzaBeforeAuth() {
        var session = XMPPSession(settings: settings)
        _ = session.receive(Array(Self.header.utf8))
        #expect(sent(session.receive(Array("<message><body>hi</body></message>".utf8))).contains("<not-authorized"))
    }

    @Test("timeouts and shutdown end the stream with their stream errors")
    func endings() {
        var session = XMPPSession(settings: settings)
        #expect(sent(session.timedOut("no stream header")).contains("<connection-timeout"))
        var other = XMPPSession(settings: settings)
        _ = other.receive(Array(Self.header.utf8))
        let text = sent(other.shutDown())
        #expect(text.hasPrefix("<stream:error><system-shutdown"))
    }
}
