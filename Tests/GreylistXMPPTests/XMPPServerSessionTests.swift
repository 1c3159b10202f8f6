import Foundation
import GreylistXMPP
import Testing

/// A deterministic generator, so stream ids and generated resources are reproducible.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64

    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }
}

@Suite struct XMPPServerSessionTests {
    static let settings = XMPPSessionSettings(domain: "localhost", maxStanzaBytes: 4_096, maxDepth: 8, maxAuthAttempts: 2,
                                              headerTimeout: .seconds(10), authTimeout: .seconds(30), idleTimeout: .seconds(300))
    static let header = "<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    let start = ContinuousClock.now

    func session(seed: UInt64 = 7) -> XMPPServerSession {
        XMPPServerSession(settings: Self.settings, now: start, identifiers: SeededGenerator(state: seed))
    }

    func auth(_ user: String, _ password: String) -> String {
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("\0\(user)\0\(password)".utf8).base64EncodedString())</auth>"
    }

    func receive(_ session: inout XMPPServerSession, _ text: String, after seconds: Int = 1) -> XMPPSessionOutput {
        session.receive(Array(text.utf8), at: start + .seconds(seconds))
    }

    @Test("logs in with PLAIN after the host checks the credentials, restarts, binds and answers session and ping")
    func login() {
        var session = session()
        #expect(receive(&session, Self.header).text.contains("<mechanism>PLAIN</mechanism>"))
        let asked = receive(&session, auth("demo", "secret"))
        #expect(asked.requests == [.checkCredentials(XMPPCredentials(user: "demo", password: "secret"))])
        #expect(asked.bytes.isEmpty, "nothing is said before the host's answer")
        let success = session.credentialsChecked(.valid, at: start + .seconds(1))
        #expect(success.text == "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        #expect(success.requests == [.reportSuccess(user: "demo")])
        #expect(session.isAuthenticated)
        #expect(receive(&session, Self.header).text.contains("urn:ietf:params:xml:ns:xmpp-bind"))
        let bound = receive(&session, "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>")
        #expect(bound.text.contains("<jid>demo@localhost/phone</jid>"))
        #expect(receive(&session, "<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>").text == "<iq type='result' id='s'/>")
        #expect(receive(&session, "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>").text == "<iq type='result' id='p'/>")
        #expect(receive(&session, "<iq type='get' id='v'><query xmlns='jabber:iq:version'/></iq>").text.contains("service-unavailable"))
        let closing = receive(&session, "</stream:stream>")
        #expect(closing.text == "</stream:stream>")
        #expect(closing.closes)
        #expect(session.isClosed)
    }

    @Test("the restarted stream's header and features come out of one call, in one buffer")
    func restartInOneBuffer() {
        var session = session()
        _ = receive(&session, Self.header)
        _ = receive(&session, auth("demo", "secret"))
        _ = session.credentialsChecked(.valid, at: start)
        let restart = receive(&session, Self.header)
        #expect(restart.text.hasPrefix("<?xml version='1.0'?><stream:stream"))
        #expect(restart.text.hasSuffix("</stream:features>"))
        #expect(restart.text.contains("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"))
    }

    @Test("a failed login is reported and answered only after the greylist's verdict; a ban refuses the stream's further logins unchecked")
    func failedLogin() {
        var session = session()
        _ = receive(&session, Self.header)
        // Two attempts in one read: the second waits until the first is judged.
        let asked = receive(&session, auth("bad_user_12345", "x") + auth("demo", "secret"))
        #expect(asked.requests == [.checkCredentials(XMPPCredentials(user: "bad_user_12345", password: "x"))])
        let rejected = session.credentialsChecked(.unknownAccount, at: start)
        #expect(rejected.requests == [.reportFailure(user: "bad_user_12345", verdict: .unknownAccount)])
        #expect(!rejected.text.contains("<failure"), "the client hears of the failure only after the verdict")
        #expect(!rejected.requests.contains(.checkCredentials(XMPPCredentials(user: "demo", password: "secret"))))
        let banned = session.failureRecorded(closeStream: true, at: start)
        #expect(banned.text.hasPrefix("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
            + "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"),
            "the queued login, right password and all, is refused as a wrong password is")
        #expect(banned.requests.isEmpty, "without reaching the host")
        #expect(banned.text.contains("too many failed authentication attempts"), "the stream closes when its attempts run out")
        #expect(session.isClosed)
    }

    @Test("the answer to a failure does not depend on whether the account exists")
    func verdictHidesAccountExistence() {
        // An unknown name that bans, and an existing account's wrong password that does not:
        // the client sees the same bytes and the same open stream.
        var unknown = session()
        _ = receive(&unknown, Self.header)
        _ = receive(&unknown, auth("made_up", "x"))
        _ = unknown.credentialsChecked(.unknownAccount, at: start)
        let bannedAnswer = unknown.failureRecorded(closeStream: true, at: start)
        var existing = session()
        _ = receive(&existing, Self.header)
        _ = receive(&existing, auth("demo", "x"))
        _ = existing.credentialsChecked(.invalidCredentials, at: start)
        let countedAnswer = existing.failureRecorded(closeStream: false, at: start)
        #expect(bannedAnswer.text == countedAnswer.text)
        #expect(bannedAnswer.closes == countedAnswer.closes)
        #expect(bannedAnswer.deadline == countedAnswer.deadline)
        #expect(!unknown.isClosed && !existing.isClosed)
    }

    @Test("a malformed login is a failed attempt: reported, answered after the verdict, and closing the stream at the limit")
    func malformedLoginsCount() {
        var session = session()
        _ = receive(&session, Self.header)
        for attempt in 1...2 {
            let asked = receive(&session, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!</auth>")
            #expect(asked.requests == [.reportFailure(user: "", verdict: .unknownAccount)])
            #expect(asked.text.isEmpty, "answered only with the verdict")
            let answer = session.failureRecorded(closeStream: false, at: start)
            #expect(answer.text.hasPrefix("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><incorrect-encoding/></failure>"))
            #expect(answer.closes == (attempt == 2))
        }
    }

    @Test("a SASL payload over the cap is refused undecoded; white space around base64 is trimmed on bytes")
    func saslPayloadCap() {
        var settings = XMPPSessionSettings()
        settings.maxSASLPayloadBytes = 64
        var session = XMPPServerSession(settings: settings, now: start, identifiers: SeededGenerator(state: 1))
        _ = receive(&session, Self.header)
        let login = Data("\0demo\0secret".utf8).base64EncodedString()
        let padded = String(repeating: " \n\t", count: 2_000) + login + String(repeating: "\r\n ", count: 2_000)
        #expect(receive(&session, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(padded)</auth>").requests
            == [.checkCredentials(XMPPCredentials(user: "demo", password: "secret"))])
        _ = session.credentialsChecked(.invalidCredentials, at: start)
        _ = session.failureRecorded(closeStream: false, at: start)
        let long = Data(("\0demo\0" + String(repeating: "p", count: 60)).utf8).base64EncodedString()
        #expect(long.utf8.count > 64)
        #expect(receive(&session, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(long)</auth>").requests
            == [.reportFailure(user: "", verdict: .unknownAccount)])
        #expect(session.failureRecorded(closeStream: false, at: start).text.contains("<malformed-request/>"))
    }

    @Test("queued input resumes after a failure that did not ban; too many failures close the stream")
    func attempts() {
        var session = session()
        _ = receive(&session, Self.header)
        _ = receive(&session, auth("demo", "wrong") + auth("demo", "secret"))
        _ = session.credentialsChecked(.invalidCredentials, at: start)
        let resumed = session.failureRecorded(closeStream: false, at: start)
        #expect(resumed.text == "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>")
        #expect(resumed.requests == [.checkCredentials(XMPPCredentials(user: "demo", password: "secret"))])

        var other = self.session()
        _ = receive(&other, Self.header)
        for attempt in 1...2 {
            _ = receive(&other, auth("demo", "wrong"))
            _ = other.credentialsChecked(.invalidCredentials, at: start)
            let answer = other.failureRecorded(closeStream: false, at: start)
            #expect(answer.text.contains("too many failed authentication attempts") == (attempt == 2))
        }
        #expect(other.isClosed)
    }

    @Test("a credential store that cannot answer is reported and does not use up an attempt")
    func unavailable() {
        var session = session()
        _ = receive(&session, Self.header)
        for _ in 1...3 {
            _ = receive(&session, auth("demo", "secret"))
            #expect(session.credentialsChecked(.unavailable, at: start).requests == [.reportFailure(user: "demo", verdict: .unavailable)])
            #expect(!session.failureRecorded(closeStream: false, at: start).closes)
        }
    }

    @Test("answers bad SASL input with the RFC 6120 failure conditions", arguments: [
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'>abc</auth>", "invalid-mechanism"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!not base64</auth>", "incorrect-encoding"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("no-separators".utf8).base64EncodedString())</auth>", "malformed-request"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>=</auth>", "malformed-request"),
        ("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("eve@localhost\0demo\0secret".utf8).base64EncodedString())</auth>", "invalid-authzid"),
        ("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", "aborted"),
    ])
    func saslFailures(input: String, condition: String) {
        var session = session()
        _ = receive(&session, Self.header)
        var output = receive(&session, input)
        if output.requests == [.reportFailure(user: "", verdict: .unknownAccount)] {
            // A malformed login is a counted failure: answered once the host reported it.
            output = session.failureRecorded(closeStream: false, at: start)
        }
        #expect(output.text.contains("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><\(condition)/></failure>"))
        #expect(output.requests.isEmpty)
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
        var session = session()
        let output = receive(&session, input)
        #expect(output.text.hasPrefix("<?xml version='1.0'?><stream:stream"))
        #expect(output.text.contains("<\(condition) xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"))
        #expect(output.closes)
        #expect(session.isClosed)
    }

    @Test("a stanza before authentication is not authorized")
    func stanzaBeforeAuth() {
        var session = session()
        _ = receive(&session, Self.header)
        #expect(receive(&session, "<message><body>hi</body></message>").text.contains("<not-authorized"))
    }

    @Test("deadlines come out as instants: header and login count from the start, idle from the last byte")
    func deadlines() {
        var session = session()
        #expect(session.nextDeadline == start + .seconds(10))
        #expect(session.deadlineReached(at: start + .seconds(9)).closeReason == nil, "an early timer only re-arms")
        #expect(receive(&session, Self.header, after: 2).deadline == start + .seconds(30))
        let late = session.deadlineReached(at: start + .seconds(30))
        #expect(late.closeReason == "connection-timeout: no authentication within 30s")
        #expect(late.text.contains("<connection-timeout"))

        var silent = self.session()
        #expect(silent.deadlineReached(at: start + .seconds(10)).closeReason == "connection-timeout: no stream header within 10s")

        var idle = self.session()
        _ = receive(&idle, Self.header)
        _ = receive(&idle, auth("demo", "secret"))
        let logged = idle.credentialsChecked(.valid, at: start + .seconds(1))
        #expect(logged.deadline == start + .seconds(301))
        #expect(receive(&idle, " ", after: 100).deadline == start + .seconds(400))
        #expect(idle.deadlineReached(at: start + .seconds(400)).closeReason == "connection-timeout: idle for 5m")
    }

    @Test("stream ids and generated resources come from the injected generator")
    func injectedIdentifiers() {
        func transcript(seed: UInt64) -> String {
            var session = session(seed: seed)
            var text = receive(&session, Self.header).text
            _ = receive(&session, auth("demo", "secret"))
            _ = session.credentialsChecked(.valid, at: start)
            text += receive(&session, Self.header).text
            text += receive(&session, "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>").text
            return text
        }
        #expect(transcript(seed: 1) == transcript(seed: 1))
        #expect(transcript(seed: 1) != transcript(seed: 2))
        #expect(transcript(seed: 1).contains("<jid>demo@localhost/greylist-"))
    }

    @Test("shutdown ends the stream with system-shutdown")
    func shutdown() {
        var session = session()
        _ = receive(&session, Self.header)
        let output = session.shutDown()
        #expect(output.text.hasPrefix("<stream:error><system-shutdown"))
        #expect(output.closes)
        #expect(session.shutDown().bytes.isEmpty, "a closed stream says nothing more")
    }

    @Test("passwords compare equal only when identical")
    func passwordComparison() {
        #expect(XMPPPasswordComparison.constantTimeEqual("secret", "secret"))
        #expect(!XMPPPasswordComparison.constantTimeEqual("secret", "secreT"))
        #expect(!XMPPPasswordComparison.constantTimeEqual("secret", "secret2"))
        #expect(!XMPPPasswordComparison.constantTimeEqual("", "x"))
    }
}
