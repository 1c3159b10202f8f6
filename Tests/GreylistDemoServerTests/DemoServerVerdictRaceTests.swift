import GreylistTestSupport
import Foundation
import Glibc
import Greylist
import Testing
@testable import GreylistDemoServer

/// A verdict from the greylist that arrives after its connection is gone: the login deadline,
/// or a stop, closed it while `recordFailedAuth` was still owed. The connection's read source
/// was paused for the verdict; resuming it twice makes libdispatch trap, which would let any
/// anonymous client stop the server.
@Suite(.serialized) struct DemoServerVerdictRaceTests {
    @Test("a verdict delivered after the login deadline closed its connection is dropped; the server goes on serving")
    func verdictAfterDeadline() async throws {
        let store = HeldStore()
        let fixture = try DemoServerFixture(store: store)
        let bot = try await fixture.openStream(from: "127.0.0.41")
        bot.send(DemoServerFixture.plain("bad_user_12345", "x"))
        #expect(await store.untilWaitedOn(), "the verdict is owed")
        // Held here as the verdict's queued answer holds it when the two race: alive after its
        // close, so the verdict is delivered to it rather than to nothing.
        let held = fixture.server.connections(from: .literal("127.0.0.41"))
        #expect(held.count == 1)
        // The login deadline passes (as the timer would see it half a minute on).
        for connection in held { connection.deadlineReached(asOf: .now + .seconds(60)) }
        let (text, closed) = await bot.readToEnd()
        #expect(closed, "the login deadline closes the stream while the verdict is owed")
        #expect(text.contains("connection-timeout"))
        store.release()
        // The verdict now reaches a closed connection: a second resume of its read source would
        // trap here, taking the test process down with it.
        #expect(try await fixture.login(from: "127.0.0.42").contains("<jid>"), "the server still serves")
        #expect(try await fixture.isRefused(from: "127.0.0.41"), "the ban itself stands")
        withExtendedLifetime(held) {}
        await fixture.stop()
    }

    @Test("a verdict delivered after the server stopped is dropped")
    func verdictAfterStop() async throws {
        let store = HeldStore()
        let fixture = try DemoServerFixture(store: store)
        let bot = try await fixture.openStream(from: "127.0.0.43")
        bot.send(DemoServerFixture.plain("bad_user_12345", "x"))
        #expect(await store.untilWaitedOn(), "the verdict is owed")
        // Stopping closes every stream with `system-shutdown`; the greylist's store then waits
        // for the held acknowledgement, so the verdict arrives after its connection closed.
        let stopped = Task { await fixture.stop() }
        let (text, closed) = await bot.readToEnd()
        #expect(closed)
        #expect(text.contains("system-shutdown"))
        store.release()
        await stopped.value
        #expect(fixture.server.connectionDescriptors(from: .literal("127.0.0.43")).isEmpty)
    }

    @Test("stress: failed logins sent just before the login deadline, many at a time, never stop the server")
    func deadlineRaceStress() async throws {
        TestSocket.raiseDescriptorLimit(to: 4_096)
        let timeout = Duration.milliseconds(300)
        let fixture = try DemoServerFixture {
            $0.server.authTimeout = timeout
            $0.server.maxUnauthenticatedPerAddress = 1_000
            $0.server.maxConnectionsPerAddress = 1_000
            // Unknown accounts with no rule that bans: every failure is judged, none refused.
            $0.greylist.rules = []
        }
        // Bounded: 3 rounds of 40 connections, each aiming its failure at 0–30 ms before its
        // deadline, from 40 addresses so the per-address caps stay out of the way.
        for round in 0..<3 {
            let port = fixture.port
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        await Blocking.run {
                            guard let client = try? TestSocket(port: port, source: "127.0.1.\(index + 1)", destination: "127.0.0.1") else { return }
                            let opened = ContinuousClock.now
                            client.send(DemoServerFixture.header)
                            let deadline = opened + timeout - .milliseconds(Int64((index * 7 + round * 11) % 31))
                            // The race needs the failure to land at a moment of the server's
                            // clock: this is the one place a test waits on time, and it asserts
                            // nothing about durations.
                            let (seconds, attoseconds) = max(.zero, deadline - ContinuousClock.now).components
                            usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
                            client.send(DemoServerFixture.plain("nobody_\(index)", "x"))
                            _ = client.readToEndBlocking()
                        }
                    }
                }
            }
        }
        // Served (a stream opened): the process survived every race. Not a whole login: that
        // must finish within the 300 ms deadline, which a loaded machine under TSan can miss.
        #expect(try await DemoServerFixture.isServed(port: fixture.port, from: "127.0.0.44"), "the server survived every race")
        await fixture.stop()
    }
}
