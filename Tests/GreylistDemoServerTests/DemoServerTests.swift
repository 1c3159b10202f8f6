import GreylistAdmin
import GreylistSystem
import GreylistTestSupport
import Foundation
import Glibc
import Greylist
import Testing
@testable import GreylistDemoServer

/// The demo server over real loopback sockets.
@Suite(.serialized) struct DemoServerTests {
    @Test("a real client logs in through SASL PLAIN and resource binding")
    func goodLogin() async throws {
        let fixture = try DemoServerFixture()
        let bound = try await fixture.login()
        #expect(bound.contains("<jid>demo@localhost/test</jid>"))
        await fixture.stop()
    }

    @Test("after SASL success the restarted stream's header and features arrive in one read (one write, no Nagle wait)")
    func restartInOneWrite() async throws {
        let fixture = try DemoServerFixture()
        let client = try await fixture.openStream()
        client.send(DemoServerFixture.plain("demo", "demo-password"))
        #expect(await client.read(until: "/>").contains("<success"))
        client.send(DemoServerFixture.header)
        // Written as two small writes, the features would wait for the client's delayed ACK
        // (Nagle's algorithm) and this first read would return the header alone.
        let first = await client.readOnce()
        #expect(first.hasPrefix("<?xml version='1.0'?><stream:stream"))
        #expect(first.hasSuffix("</stream:features>"))
        // Whether Nagle would hold a write back depends on timing; the option itself does not.
        let descriptors = fixture.server.connectionDescriptors(from: .literal("127.0.0.1"))
        #expect(!descriptors.isEmpty)
        for descriptor in descriptors {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            #expect(getsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0 && value == 1, "TCP_NODELAY is set")
        }
        await fixture.stop()
    }

    @Test("the demo reports unknown accounts as such: two within an hour ban the source under the recommended rules")
    func unknownAccounts() async throws {
        let fixture = try DemoServerFixture()
        let client = try await fixture.openStream(from: "127.0.0.21")
        client.send(DemoServerFixture.plain("admin", "admin"))
        #expect(await client.read(until: "</failure>").contains("<not-authorized/>"))
        client.send(DemoServerFixture.plain("test", "test"))
        // Answered as a wrong password is: the ban does not tell the client the name is unknown.
        #expect(await client.read(until: "</failure>").contains("<not-authorized/>"))
        // The banned stream's next login is refused unchecked, even with the right password.
        client.send(DemoServerFixture.plain("demo", "demo-password"))
        let (rest, closed) = await client.readToEnd()
        #expect(!rest.contains("<success"))
        #expect(rest.contains("<not-authorized/>"))
        #expect(rest.contains("<policy-violation"))
        #expect(closed)
        #expect(try await fixture.isRefused(from: "127.0.0.21"))
        let bans = await fixture.server.greylist.list()
        #expect(bans.map(\.reason) == [.rule("unknown-accounts")])
        await fixture.stop()
    }

    @Test("the client hears of a failed login only with the greylist's verdict: reconnecting the moment it arrives is refused")
    func failureWaitsForVerdict() async throws {
        // The bot's failure bans, and the greylist returns a ban only once its store acknowledges
        // it; this store holds the acknowledgement (suspended, no thread blocked). A server that
        // answered before the verdict would send the bot its <failure/> now, and its reconnect
        // could come before the ban is stored.
        let store = HeldStore()
        let fixture = try DemoServerFixture(store: store)
        let bot = try await fixture.openStream(from: "127.0.0.32")
        bot.send(DemoServerFixture.plain("bad_user_12345", "x"))
        #expect(await store.untilWaitedOn(), "the greylist waits for the store")
        #expect(!(await bot.serverActs(within: 300)), "no answer before the verdict")
        store.release()
        #expect(await bot.read(until: "</failure>").contains("<not-authorized/>"))
        #expect(try await fixture.isRefused(from: "127.0.0.32"), "reconnecting the moment the failure arrived")
        await fixture.stop()
    }

    @Test("a matching failure bans: the stream refuses further logins and the next connection gets EOF with 0 bytes; other sources still log in")
    func matchingFailureBans() async throws {
        let fixture = try DemoServerFixture()
        let bot = try await fixture.openStream(from: "127.0.0.2")
        bot.send(DemoServerFixture.plain("bad_user_348211", "x"))
        var answer = await bot.read(until: "</failure>")
        // The failure is sent only once the ban is in place: an immediate reconnect is refused.
        #expect(try await fixture.isRefused(from: "127.0.0.2"))
        bot.send(DemoServerFixture.plain("bad_user_348212", "x") + DemoServerFixture.plain("bad_user_348213", "x"))
        let (rest, closed) = await bot.readToEnd()
        answer += rest
        #expect(answer.contains("<not-authorized/>"))
        #expect(answer.contains("<policy-violation"))
        #expect(closed)

        #expect(try await fixture.isRefused(from: "127.0.0.2"))
        #expect(try await fixture.login(from: "127.0.0.3").contains("<jid>"))
        let statistics = await fixture.server.greylist.statistics()
        #expect(statistics.refused == 2)
        #expect(statistics.activeBans == 1)
        await fixture.stop()
    }

    @Test("an allowlisted address is never banned")
    func allowlisted() async throws {
        let fixture = try DemoServerFixture { $0.greylist.allowlist = [try! IPNetwork("127.0.0.4/32")] }
        for _ in 0..<3 {
            let client = try await fixture.openStream(from: "127.0.0.4")
            client.send(DemoServerFixture.plain("bad_user_12345", "x"))
            #expect(await client.read(until: "</failure>").contains("<not-authorized/>"))
        }
        #expect(try await fixture.login(from: "127.0.0.4").contains("<jid>"))
        #expect(await fixture.server.greylist.list().isEmpty)
        await fixture.stop()
    }

    @Test("a wrong password is counted but does not ban under the default rule; too many close the stream")
    func wrongPasswords() async throws {
        let fixture = try DemoServerFixture()
        let client = try await fixture.openStream(from: "127.0.0.5")
        var text = ""
        for _ in 0..<3 {
            client.send(DemoServerFixture.plain("demo", "wrong"))
            // The stream error may arrive in the same read as the third failure.
            text += await client.read(until: "</failure>")
        }
        let (rest, closed) = await client.readToEnd()
        text += rest
        #expect(text.contains("too many failed authentication attempts"))
        #expect(closed)
        #expect(try await fixture.login(from: "127.0.0.5").contains("<jid>"))
        await fixture.stop()
    }

    @Test("the admin socket lists, bans, unbans and reports statistics")
    func admin() async throws {
        let fixture = try DemoServerFixture()
        let banned = try GreylistAdminClient.send(GreylistAdminRequest(command: "ban", network: "127.0.0.6/31", duration: "10m", reason: "test"), to: fixture.adminSocket)
        #expect(banned.ok)
        #expect(banned.bans?.first?.network == "127.0.0.6/31")
        #expect(try await fixture.isRefused(from: "127.0.0.7"))
        let listed = try GreylistAdminClient.send(GreylistAdminRequest(command: "list"), to: fixture.adminSocket)
        #expect(listed.bans?.map(\.network) == ["127.0.0.6/31"])
        #expect(listed.bans?.first?.refusedCount == 1)
        #expect(GreylistAdminClient.format(listed, command: "list").contains("127.0.0.6/31"))
        for (index, minutes) in [(1, "30m"), (2, "20m"), (3, "40m")] {
            #expect(try GreylistAdminClient.send(GreylistAdminRequest(command: "ban", network: "2001:db8:\(index)::/48", duration: minutes), to: fixture.adminSocket).ok)
        }
        let limited = try GreylistAdminClient.send(GreylistAdminRequest(command: "list", network: "2001:db8::/32", limit: 2), to: fixture.adminSocket)
        #expect(limited.bans?.map(\.network) == ["2001:db8:2::/48", "2001:db8:1::/48"], "the two expiring soonest inside the filter")
        #expect(limited.total == 3)
        #expect(GreylistAdminClient.format(limited, command: "list").hasPrefix("3 bans match; the 2 expiring soonest"))
        let inside = try GreylistAdminClient.send(GreylistAdminRequest(command: "list", network: "2001:db8:3:4::/64", limit: 10), to: fixture.adminSocket)
        #expect(inside.bans?.map(\.network) == ["2001:db8:3::/48"] && inside.total == 1, "a ban covering the filter matches")
        #expect(try GreylistAdminClient.send(GreylistAdminRequest(command: "list", network: "2001:db8::/99x"), to: fixture.adminSocket).error?.contains("2001:db8::/99x") == true)
        #expect(try GreylistAdminClient.send(GreylistAdminRequest(command: "unban", network: "2001:db8::/32"), to: fixture.adminSocket).bans?.count == 3)
        let statistics = try GreylistAdminClient.send(GreylistAdminRequest(command: "stats"), to: fixture.adminSocket)
        #expect(statistics.statistics?["refused"] == 1)
        let lifted = try GreylistAdminClient.send(GreylistAdminRequest(command: "unban", network: "127.0.0.0/8"), to: fixture.adminSocket)
        #expect(lifted.bans?.count == 1)
        #expect(try await fixture.login(from: "127.0.0.7").contains("<jid>"))
        let bad = try GreylistAdminClient.send(GreylistAdminRequest(command: "ban", network: "127.0.0.300/8"), to: fixture.adminSocket)
        #expect(!bad.ok)
        #expect(bad.error?.contains("\"127.0.0.300/8\"") == true)
        await fixture.stop()
    }

    @Test("reload changes rules and keeps bans; an invalid file is rejected and the old rules keep running")
    func reload() async throws {
        let path = NSTemporaryDirectory() + "greylist-reload-\(UInt32.random(in: 0...UInt32.max)).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"greylist": {"stateDirectory": "", "rules": [{"name": "botnet", "pattern": "^bad_user_[0-9]{5,}$"}]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let fixture = try DemoServerFixture(configurationPath: path)
        #expect(try await fixture.bans("bad_user_12345", from: "127.0.0.8"))

        try #"{"greylist": {"stateDirectory": "", "rules": [{"name": "bots", "pattern": "^robot"}]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await withCheckedContinuation { continuation in fixture.server.reload { continuation.resume(returning: $0) } })
        #expect(try await fixture.isRefused(from: "127.0.0.8"))
        #expect(try await fixture.bans("robot7", from: "127.0.0.9"))
        #expect(try await fixture.isRefused(from: "127.0.0.9"))

        try #"{"greylist": {"stateDirectory": "", "rules": [{"name": "bots", "pattern": "^(robot"}]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await withCheckedContinuation { continuation in fixture.server.reload { continuation.resume(returning: $0) } } == false)
        #expect(try await fixture.bans("robot8", from: "127.0.0.10"))
        #expect(try await fixture.isRefused(from: "127.0.0.10"))

        // softTrust by reload: the bans inside it are soft at once, and hard again once it is taken out.
        try #"{"greylist": {"stateDirectory": "", "softTrust": ["127.0.0.8/31"], "rules": [{"name": "bots", "pattern": "^robot"}]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await withCheckedContinuation { continuation in fixture.server.reload { continuation.resume(returning: $0) } })
        #expect(try await DemoServerFixture.isServed(port: fixture.port, from: "127.0.0.9"), "inside softTrust, the ban is soft")
        #expect(try await fixture.isRefused(from: "127.0.0.10"))
        try #"{"greylist": {"stateDirectory": "", "rules": [{"name": "bots", "pattern": "^robot"}]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await withCheckedContinuation { continuation in fixture.server.reload { continuation.resume(returning: $0) } })
        #expect(try await fixture.isRefused(from: "127.0.0.9"))
        await fixture.stop()
    }

    @Test("listening on :: serves IPv4 and IPv6 clients, and an IPv4-mapped peer is banned as IPv4")
    func dualStack() async throws {
        let fixture = try DemoServerFixture { $0.server.host = "::" }
        #expect(try await fixture.login(from: "::1").contains("<jid>"))
        #expect(try await fixture.login(from: "127.0.0.11").contains("<jid>"))
        #expect(try await fixture.bans("bad_user_12345", from: "127.0.0.12"))
        #expect(await fixture.server.greylist.list().map(\.network.description) == ["127.0.0.12/32"])
        #expect(try await fixture.isRefused(from: "127.0.0.12"))
        #expect(try await fixture.login(from: "::1").contains("<jid>"))
        await fixture.stop()
    }

    /// The refusals the log's summary lines add up to.
    static func summedRefusals(_ log: String) -> Int {
        log.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "summary: refused ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }.reduce(0, +)
    }

    @Test("refusals are logged as a periodic summary, never a line per connection")
    func refusalSummary() async throws {
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        let fixture = try DemoServerFixture(log: Log(minimum: .info, descriptor: pipeEnds[1])) {
            $0.server.refusalSummaryInterval = .milliseconds(200)
        }
        try await fixture.server.greylist.ban(IPNetwork("127.0.0.12/32"), for: .seconds(60), reason: "test")
        for _ in 0..<25 {
            #expect(try await fixture.isRefused(from: "127.0.0.12"))
        }
        // A summary may fall between two refusals: add the counts of every summary line until
        // they make 25 (or 10 s pass), rather than read the first one.
        let readEnd = pipeEnds[0]
        let log = await Blocking.run { () -> String in
            var text = ""
            let deadline = Date().addingTimeInterval(10)
            while Self.summedRefusals(text) < 25, deadline.timeIntervalSinceNow > 0 {
                text += Pipes.read(readEnd, until: "\n", within: deadline.timeIntervalSinceNow)
            }
            return text
        }
        #expect(Self.summedRefusals(log) == 25, "\(log)")
        #expect(!log.contains("refused 127.0.0.12"))
        await fixture.stop()
        // The write end first: a log line into a pipe without a reader would raise SIGPIPE.
        close(pipeEnds[1])
        close(pipeEnds[0])
    }

    @Test("bans survive a server restart; admin export shows bans and histories")
    func restartKeepsBans() async throws {
        let directory = temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The stores are opened with a wait for the lock: a child process of another suite between
        // fork and exec may briefly hold a copy of it.
        var fixture = try DemoServerFixture(store: try await JournalStore.open(directory: directory)) { $0.greylist.stateDirectory = directory }
        #expect(try await fixture.bans("bad_user_12345", from: "127.0.0.13"))
        // Stopping closes the store, so a second server in this process can open the directory.
        await fixture.stop()

        fixture = try DemoServerFixture(store: try await JournalStore.open(directory: directory)) { $0.greylist.stateDirectory = directory }
        #expect(try await fixture.isRefused(from: "127.0.0.13"))
        let exported = try GreylistAdminClient.send(GreylistAdminRequest(command: "export"), to: fixture.adminSocket)
        #expect(exported.bans?.map(\.network) == ["127.0.0.13/32"])
        #expect(exported.bans?.first?.user == "bad_user_12345")
        await fixture.stop()
    }

    @Test("stopping ends open streams with system-shutdown")
    func shutdown() async throws {
        let fixture = try DemoServerFixture()
        let client = try await fixture.openStream()
        await fixture.stop()
        let (text, closed) = await client.readToEnd()
        #expect(text.contains("<system-shutdown"))
        #expect(closed)
    }
}
