import Foundation
import Glibc
import GreylistTestSupport
import Testing
@testable import GreylistDemoServer

/// Two demo server processes sharing bans through a real `redis-server`.
extension DemoProcessTests {
    /// A child's log read so far; `wait(for:)` reads on until a line holds the marker.
    final class LogWatch: @unchecked Sendable {
        let child: Child
        let tests: DemoProcessTests
        /// Touched only by the test, one `await` at a time.
        var text = ""

        init(_ child: Child, _ tests: DemoProcessTests) {
            self.child = child
            self.tests = tests
        }

        /// Whether the log, from its start, contains `marker` (reading for at most 20 s more).
        func wait(for marker: String) async -> Bool {
            while !text.contains(marker) {
                let more = await tests.readLog(child, until: marker)
                if more.isEmpty { return false }
                text += more
            }
            return true
        }

        /// The port from `listening on 127.0.0.1:<port>`.
        var port: Int? {
            guard let range = text.range(of: "listening on 127.0.0.1:") else { return nil }
            return Int(text[range.upperBound...].prefix { $0.isNumber })
        }
    }

    func clusterNode(_ name: String, redisPort: Int) throws -> (config: String, socket: String, directory: String) {
        let socket = "/tmp/greylist-cluster-\(name)-\(UInt32.random(in: 0...UInt32.max)).sock"
        let directory = NSTemporaryDirectory() + "greylist-cluster-\(name)-\(UUID().uuidString)"
        let config = try writeConfig("""
            {"server": {"port": 0, "adminSocket": "\(socket)"},
             "greylist": {"stateDirectory": "\(directory)",
                          "rules": [{"name": "botnet", "pattern": "^bad_user_[0-9]{5,}$", "banFor": "4h"},
                                    {"name": "slow", "pattern": "^admin$", "maxFailures": 3, "window": "10m", "banFor": "1h"}],
                          "cluster": {"redis": "redis://127.0.0.1:\(redisPort)/0", "namespace": "proc", "node": "\(name)",
                                      "keyFile": "\(try DemoServerFixture.clusterKeyFile())"}}}
            """)
        return (config, socket, directory)
    }

    @Test("two demo processes: a ban on A refuses on B, an unban on B lifts on A, a bot alternating them trips at the same count",
          .enabled(if: RedisServerFixture.isAvailable, "redis-server is not installed (.ci/run installs it)"))
    func clusterOfTwoProcesses() async throws {
        let redis = try await RedisServerFixture()
        let nodeA = try clusterNode("a", redisPort: redis.port)
        let nodeB = try clusterNode("b", redisPort: redis.port)
        let childA = try launch(["--config", nodeA.config, "--verbose"])
        let childB = try launch(["--config", nodeB.config, "--verbose"])
        let logA = LogWatch(childA, self)
        let logB = LogWatch(childB, self)
        defer {
            for child in [childA, childB] where child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) }
            for path in [nodeA.config, nodeB.config, nodeA.directory, nodeB.directory] { try? FileManager.default.removeItem(atPath: path) }
        }
        for log in [logA, logB] {
            // Either line may come first: the link connects on its own thread.
            #expect(await log.wait(for: "shared state available"))
            #expect(await log.wait(for: "cluster: bans shared"))
            #expect(await log.wait(for: "listening on"))
        }
        #expect(logA.text.contains("cluster: bans shared through redis://127.0.0.1:\(redis.port)/0, namespace proc, node a"))
        let portA = try #require(logA.port)
        let portB = try #require(logB.port)

        // A ban on A (a real failed login) refuses on B, before a byte; B serves others.
        let answer = try await DemoServerFixture.banningLogin(port: portA, "bad_user_12345", from: "127.0.0.5")
        #expect(answer.contains("<failure"))
        #expect(await logB.wait(for: "banned 127.0.0.5/32 rule botnet"))
        #expect(try await DemoServerFixture.isRefused(port: portB, from: "127.0.0.5"))
        #expect(try await DemoServerFixture.isServed(port: portB, from: "127.0.0.9"))

        // An unban on B lifts on A.
        let lifted = try await admin(["unban", "127.0.0.5/32"], socket: nodeB.socket)
        #expect(lifted.output.contains("lifted 1 ban(s)"))
        #expect(await logA.wait(for: "unbanned 127.0.0.5/32"))
        #expect(try await DemoServerFixture.isServed(port: portA, from: "127.0.0.5"))

        // A bot alternating A, B, A trips the three-failure rule at its third try.
        _ = try await DemoServerFixture.failedLogin(port: portA, "admin", from: "127.0.0.6")
        #expect(await logB.wait(for: "failure shared by another node: 127.0.0.6/32 user=admin rule slow (1 counted)"))
        _ = try await DemoServerFixture.failedLogin(port: portB, "admin", from: "127.0.0.6")
        #expect(await logA.wait(for: "failure shared by another node: 127.0.0.6/32 user=admin rule slow (2 counted)"))
        let third = try await DemoServerFixture.banningLogin(port: portA, "admin", from: "127.0.0.6")
        #expect(third.contains("<failure"))
        #expect(await logA.wait(for: "banned 127.0.0.6/32 rule slow"))
        #expect(await logB.wait(for: "banned 127.0.0.6/32 rule slow"))
        #expect(try await DemoServerFixture.isRefused(port: portB, from: "127.0.0.6"))

        let statistics = try await admin(["stats"], socket: nodeA.socket)
        #expect(statistics.output.split(separator: "\n").contains { $0.hasPrefix("cluster ") && $0.contains("connected to redis://127.0.0.1:\(redis.port)/0") })
        for child in [childA, childB] { kill(child.process.processIdentifier, SIGTERM) }
        #expect(await childA.exited())
        #expect(await childB.exited())
        await redis.stop()
    }
}
