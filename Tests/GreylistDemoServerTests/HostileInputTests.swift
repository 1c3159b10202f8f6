import GreylistAdmin
import GreylistSystem
import GreylistTestSupport
import Foundation
import Glibc
import Testing
@testable import Greylist
@testable import GreylistDemoServer
import GreylistXMPP

/// Regression tests for what an attacker sends: forged log lines and terminal escapes, durations
/// that overflow, translated addresses, floods of failed-login lines.
@Suite struct HostileInputTests {
    @Test("operator text escapes control characters, C1, separators and bidi overrides; one record stays one line", arguments: [
        ("plain user", "plain user"),
        ("a\nINFO unbanned 1.2.3.4", "a\\u{A}INFO unbanned 1.2.3.4"),
        ("\u{1B}[2Jclear", "\\u{1B}[2Jclear"),
        ("c1\u{9B}31m", "c1\\u{9B}31m"),
        ("rtl\u{202E}gnp.exe", "rtl\\u{202E}gnp.exe"),
        ("line\u{2028}sep", "line\\u{2028}sep"),
        ("back\\slash", "back\\\\slash"),
        ("ünïcödé 用户", "ünïcödé 用户"),
    ])
    func operatorText(input: String, escaped: String) {
        #expect(OperatorText.escaped(input) == escaped)
        #expect(!OperatorText.escaped(input).contains { $0.isNewline })
    }

    @Test("a SASL username with a newline and escapes writes one escaped log line, never a forged one")
    func logInjection() async throws {
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        let fixture = try DemoServerFixture(log: Log(minimum: .info, descriptor: pipeEnds[1])) { _ in }
        let client = try await fixture.openStream(from: "127.0.0.41")
        client.send(DemoServerFixture.plain("eve\n2026-01-01T00:00:00Z INFO unbanned 10.0.0.0/8\u{1B}[2J", "x"))
        await client.read(until: "</failure>")
        let log = await Blocking.read(pipeEnds[0], until: "failed login", within: 10)
        await fixture.stop()
        close(pipeEnds[1])
        close(pipeEnds[0])
        let lines = log.split(separator: "\n")
        #expect(!lines.contains { $0.contains("INFO unbanned") && !$0.contains("failed login") }, "no forged line: \(lines)")
        #expect(log.contains("eve\\u{A}2026-01-01T00:00:00Z INFO unbanned 10.0.0.0/8\\u{1B}[2J"))
        #expect(!log.contains("\u{1B}"))
    }

    @Test("admin output shows a hostile reason escaped, in text and in JSON")
    func adminOutput() {
        let ban = GreylistAdminResponse.Ban(BanEntry(network: .cidr("192.0.2.1/32"), reason: .manual("x\n\u{1B}[2J\u{9B}"), user: "u\r\n",
                                    bannedAt: Date(timeIntervalSince1970: 0), expiresAt: Date(timeIntervalSince1970: 60)))
        let text = GreylistAdminClient.format(GreylistAdminResponse(ok: true, bans: [ban]), command: "list")
        #expect(!text.contains("\u{1B}") && !text.contains("\u{9B}") && !text.contains("\r"))
        #expect(text.split(separator: "\n").count == 1)
        #expect(GreylistAdminClient.terminalSafe(json: "{\"r\":\"\u{9B}\u{202E}\"}") == "{\"r\":\"\\u009b\\u202e\"}")
    }

    @Test("durations too large are errors that name the value, never a crash", arguments: [
        "9223372036854775808ms", "9223372036854775807ms", "99999999999999999999d", "36501d", String(repeating: "9", count: 70) + "s",
    ])
    func hugeDurations(text: String) throws {
        #expect(throws: GreylistError.self) { try GreylistAdminServer.duration(text) }
        do {
            _ = try GreylistConfiguration(json: Data(#"{"rules": [{"name": "r", "banFor": "\#(text)"}]}"#.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains("greylist.rules[0].banFor"))
            #expect(error.description.contains("too"))
        }
        #expect(throws: GreylistError.self) { try GreylistConfiguration(json: Data(#"{"cleanupInterval": 9223372036854775807}"#.utf8)) }
        #expect(try GreylistAdminServer.duration("36500d") == .seconds(36_500 * 86_400))
    }

    @Test("a ban entry's duration never traps, whatever its instants")
    func entryDuration() {
        let entry = BanEntry(network: .cidr("192.0.2.1/32"), reason: .manual("x"), bannedAt: .distantPast, expiresAt: .distantFuture)
        #expect(entry.duration > .zero)
        _ = entry.description
    }

    @Test("an address in the NAT64 prefix 64:ff9b::/96 is keyed by the IPv4 address it embeds")
    func nat64() async throws {
        #expect(try IPAddress("64:ff9b::192.0.2.7") == IPAddress("192.0.2.7"))
        #expect(try IPAddress("64:ff9b::c000:207").isIPv4)
        #expect(try !IPAddress("64:ff9b:1::c000:207").isIPv4, "only the well-known /96")
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [botnetRule]))
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: try IPAddress("64:ff9b::198.51.100.1"))
        #expect(await greylist.list().map(\.network.description) == ["198.51.100.1/32"])
        #expect(greylist.shouldAccept(ip: try IPAddress("64:ff9b::198.51.100.2")), "other translated clients are served")
    }

    @Test("failed-login lines are budgeted: past 20 in 10 s they are counted for the summary")
    func lineBudget() {
        let now = LockedValue(ContinuousClock.now)
        let budget = LineBudget(linesPerWindow: 20, window: .seconds(10), clock: { now.withLock { $0 } })
        #expect((0..<20).allSatisfy { _ in budget.spend() })
        #expect(!budget.spend())
        #expect(!budget.spend())
        #expect(budget.takeSuppressed() == 2)
        #expect(budget.takeSuppressed() == 0)
        now.withLock { $0 += .seconds(10) }
        #expect(budget.spend())
    }
}

@Suite struct ResourceLimitTests {
    @Test("accepted sockets are close-on-exec")
    func acceptCloseOnExec() async throws {
        let listener = try ListenAddress(host: "127.0.0.1", port: 0).listen()
        defer { Syscalls.close(listener) }
        let port = try Syscalls.localPort(listener)
        let client = try TestSocket(port: port)
        let accepted = await Blocking.run { () -> Int32 in
            var storage = sockaddr_storage()
            return Syscalls.accept(listener, into: &storage)
        }
        #expect(accepted >= 0)
        #expect(Syscalls.isCloseOnExec(accepted))
        Syscalls.close(accepted)
        _ = client
    }

    @Test("start-up refuses to promise more connections than the descriptors allow, saying how to fix it")
    func descriptorLimit() {
        #expect(DemoServer.descriptorProblem(maxConnections: 1_024, available: 1_024)?.contains("ulimit -n") == true)
        #expect(DemoServer.descriptorProblem(maxConnections: 1_024, available: 4_096) == nil)
        #expect(Syscalls.raiseDescriptorLimit() >= 1_024)
    }

    @Test("the parser's budget counts what it stores: 64 KB of tiny elements cannot become a large tree")
    func storedBudget() throws {
        var parser = XMLStreamParser(maxStanzaBytes: 65_536, maxDepth: 16)
        _ = try parser.feed(Array("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>".utf8))
        let flood = "<m>" + String(repeating: "<a b=''/>", count: 7_000) + "</m>"
        #expect(flood.utf8.count < 65_536, "under the byte limit as received")
        #expect(throws: XMLStreamViolation.self) { try parser.feed(Array(flood.utf8)) }
        var fine = XMLStreamParser(maxStanzaBytes: 65_536, maxDepth: 16)
        _ = try fine.feed(Array("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>".utf8))
        #expect(try fine.feed(Array(("<m>" + String(repeating: "<a b=''/>", count: 100) + "</m>").utf8)).count == 1)
    }

    @Test("admin stats shows every key whole, its column as wide as the longest")
    func statsColumns() {
        var response = GreylistAdminResponse(ok: true)
        response.statistics = ["proxyHeadersAccepted": 3, "refused": 12]
        response.cluster = "connected"
        let text = GreylistAdminClient.format(response, command: "stats")
        #expect(text == "proxyHeadersAccepted 3\nrefused              12\ncluster              connected")
    }

    @Test("a configuration error is logged as a block of lines, each escaped on its own")
    func errorBlock() {
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        let log = Log(minimum: .info, descriptor: pipeEnds[1])
        log.block(.error, "not started: invalid configuration file c.json (2 problems):\n  - greylist.rules[0].maxFailure = 10: unknown key\n  - x = \"a\u{1B}[2J\": bad")
        close(pipeEnds[1])
        let text = Pipes.read(pipeEnds[0], until: nil, within: 5)
        close(pipeEnds[0])
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3, "\(text)")
        #expect(lines.allSatisfy { $0.contains(" ERROR ") })
        #expect(lines[1].hasSuffix("  - greylist.rules[0].maxFailure = 10: unknown key"))
        #expect(lines[2].contains("\\u{1B}[2J"), "control characters stay escaped")
        #expect(!text.contains("\\u{A}"))
    }
}
