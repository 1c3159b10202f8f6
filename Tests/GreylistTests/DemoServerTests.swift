import Foundation
import Greylist
import Testing
@testable import GreylistDemoServer

/// The demo server over real loopback sockets.
@Suite(.serialized) struct DemoServerTests {
    @Test("a real client logs in through SASL PLAIN and resource binding")
    func goodLogin() async throws {
        let fixture = try DemoServerFixture()
        let bound = try fixture.login()
        #expect(bound.contains("<jid>demo@localhost/test</jid>"))
        await fixture.stop()
    }

    @Test("a matching failure bans: the stream closes and the next connection gets EOF with 0 bytes; other sources still log in")
    func matchingFailureBans() async throws {
        let fixture = try DemoServerFixture()
        let bot = try fixture.connect(from: "127.0.0.2")
        bot.send(DemoServerFixture.header)
        bot.read(until: "</stream:features>")
        bot.send(DemoServerFixture.plain("bad_user_348211", "x"))
        let (answer, closed) = bot.readToEnd()
        #expect(answer.contains("<not-authorized/>"))
        #expect(answer.contains("<policy-violation"))
        #expect(closed)

        let again = try fixture.connect(from: "127.0.0.2")
        let (text, refusedClosed) = again.readToEnd()
        #expect(text.isEmpty)
        #expect(refusedClosed)
        #expect(try fixture.login(from: "127.0.0.3").contains("<jid>"))
        let statistics = await fixture.server.greylist.statistics()
        #expect(statistics.refused == 1)
        #expect(statistics.activeBans == 1)
        await fixture.stop()
    }

    @Test("an allowlisted address is never banned")
    func allowlisted() async throws {
        let fixture = try DemoServerFixture { $0.greylist.allowlist = [try! IPNetwork("127.0.0.4/32")] }
        for _ in 0..<3 {
            let client = try fixture.connect(from: "127.0.0.4")
            client.send(DemoServerFixture.header)
            client.read(until: "</stream:features>")
            client.send(DemoServerFixture.plain("bad_user_12345", "x"))
            #expect(client.read(until: "</failure>").contains("<not-authorized/>"))
        }
        #expect(try fixture.login(from: "127.0.0.4").contains("<jid>"))
        #expect(await fixture.server.greylist.list().isEmpty)
        await fixture.stop()
    }

    @Test("a wrong password is counted but does not ban under the default rule; too many close the stream")
    func wrongPasswords() async throws {
        let fixture = try DemoServerFixture()
        let client = try fixture.connect(from: "127.0.0.5")
        client.send(DemoServerFixture.header)
        client.read(until: "</stream:features>")
        for _ in 0..<3 {
            client.send(DemoServerFixture.plain("demo", "wrong"))
            client.read(until: "</failure>")
        }
        let (text, closed) = client.readToEnd()
        #expect(text.contains("too many failed authentication attempts"))
        #expect(closed)
        #expect(try fixture.login(from: "127.0.0.5").contains("<jid>"))
        await fixture.stop()
    }

    @Test("the admin socket lists, bans, unbans and reports statistics")
    func admin() async throws {
        let fixture = try DemoServerFixture()
        let banned = try AdminClient.send(AdminRequest(command: "ban", network: "127.0.0.6/31", duration: "10m", reason: "test"), to: fixture.adminSocket)
        #expect(banned.ok)
        #expect(banned.bans?.first?.network == "127.0.0.6/31")
        #expect(try fixture.connect(from: "127.0.0.7").readToEnd().text.isEmpty)
        let listed = try AdminClient.send(AdminRequest(command: "list"), to: fixture.adminSocket)
        #expect(listed.bans?.map(\.network) == ["127.0.0.6/31"])
        #expect(listed.bans?.first?.refusedCount == 1)
        #expect(AdminClient.format(listed, command: "list").contains("127.0.0.6/31"))
        let statistics = try AdminClient.send(AdminRequest(command: "stats"), to: fixture.adminSocket)
        #expect(statistics.statistics?["refused"] == 1)
        let lifted = try AdminClient.send(AdminRequest(command: "unban", network: "127.0.0.0/8"), to: fixture.adminSocket)
        #expect(lifted.bans?.count == 1)
        #expect(try fixture.login(from: "127.0.0.7").contains("<jid>"))
        let bad = try AdminClient.send(AdminRequest(command: "ban", network: "127.0.0.300/8"), to: fixture.adminSocket)
        #expect(!bad.ok)
        #expect(bad.error?.contains("\"127.0.0.300/8\"") == true)
        await fixture.stop()
    }

    @Test("reload changes rules and keeps bans; an invalid file is rejected and the old rules keep running")
    func reload() async throws {
        let path = NSTemporaryDirectory() + "greylist-reload-\(UInt32.random(in: 0...UInt32.max)).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"greylist": {"rules": [{"name": "botnet", "pattern": "^bad_user_[0-9]{5,}$"}]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let fixture = try DemoServerFixture(configurationPath: path)
        #expect(try fixture.login("bad_user_12345", "x", from: "127.0.0.8").contains("<not-authorized/>"))

        try #"{"greylist": {"rules": [{"name": "bots", "pattern": "^robot"}]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await withCheckedContinuation { continuation in fixture.server.reload { continuation.resume(returning: $0) } })
        #expect(try fixture.connect(from: "127.0.0.8").readToEnd().text.isEmpty)
        #expect(try fixture.login("robot7", "x", from: "127.0.0.9").contains("<not-authorized/>"))
        #expect(try fixture.connect(from: "127.0.0.9").readToEnd().text.isEmpty)

        try #"{"greylist": {"rules": [{"name": "bots", "pattern": "^(robot"}]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await withCheckedContinuation { continuation in fixture.server.reload { continuation.resume(returning: $0) } } == false)
        #expect(try fixture.login("robot8", "x", from: "127.0.0.10").contains("<not-authorized/>"))
        #expect(try fixture.connect(from: "127.0.0.10").readToEnd().text.isEmpty)
        await fixture.stop()
    }

    @Test("stopping ends open streams with system-shutdown")
    func shutdown() async throws {
        let fixture = try DemoServerFixture()
        let client = try fixture.connect()
        client.send(DemoServerFixture.header)
        client.read(until: "</stream:features>")
        await fixture.stop()
        let (text, closed) = client.readToEnd()
        #expect(text.contains("<system-shutdown"))
        #expect(closed)
    }
}
