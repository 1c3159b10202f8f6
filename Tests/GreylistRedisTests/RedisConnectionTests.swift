import Foundation
import GreylistTestSupport
import Testing
@_spi(Internals) import GreylistRedis

/// The connection against a real `redis-server` started per test.
@Suite(.enabled(if: RedisServerFixture.isAvailable, "needs Debian's redis-server (.ci/run installs it)"))
struct RedisConnectionTests {
    @Test("commands and replies: PING, SET with an absolute expiry (PXAT), GET, a missing key, a refused command")
    func commands() async throws {
        let server = try await RedisServerFixture()
        let expiry = Int64(Date().timeIntervalSince1970 * 1_000) + 3_600_000
        let replies = try await RedisServerFixture.blocking {
            let connection = try server.connect()
            return try [
                connection.call(["PING"]),
                connection.call(["SET", "greylist:test", RESPArgument(bytes: [0, 13, 10, 255]), "PXAT", RESPArgument(expiry)]),
                connection.call(["GET", "greylist:test"]),
                connection.call(["PEXPIRETIME", "greylist:test"]),
                connection.call(["GET", "greylist:missing"]),
                connection.call(["NOSUCHCOMMAND"]),
            ]
        }
        #expect(replies[0] == .simpleString("PONG"))
        #expect(replies[1] == .simpleString("OK"))
        #expect(replies[2] == .bulkString([0, 13, 10, 255]))
        #expect(replies[3] == .integer(expiry))
        #expect(replies[4] == .bulkString(nil))
        #expect(replies[5].description.hasPrefix("-ERR unknown command"))
        await server.stop()
    }

    @Test("10,000 commands pipelined in one write come back in order")
    func pipelining() async throws {
        let server = try await RedisServerFixture()
        let replies = try await RedisServerFixture.blocking {
            let connection = try server.connect()
            let commands: [[RESPArgument]] = (0..<10_000).map { ["INCRBY", "counter", RESPArgument(Int64($0))] }
            return try connection.pipeline(commands)
        }
        #expect(replies.count == 10_000)
        #expect(replies.last == .integer(Int64((0..<10_000).reduce(0, +))))
        await server.stop()
    }

    @Test("AUTH with a password and with an ACL user; a wrong one is an error that does not echo the password; SELECT")
    func authentication() async throws {
        let server = try await RedisServerFixture(["--requirepass", "s3cret"])
        try await RedisServerFixture.blocking {
            #expect(try server.connect(password: "s3cret").call(["ACL", "SETUSER", "node", "on", ">n0de-pass", "~greylist:*", "+@all"]) == .simpleString("OK"))
            #expect(try server.connect(password: "s3cret").call(["PING"]) == .simpleString("PONG"))
            #expect(try server.connect(password: "n0de-pass", username: "node").call(["SET", "greylist:a", "1"]) == .simpleString("OK"))
            #expect(try server.connect(password: "s3cret", database: 3).call(["SET", "k", "v"]) == .simpleString("OK"))
            do {
                _ = try server.connect(password: "wrong-password")
                Issue.record("a wrong password was accepted")
            } catch {
                #expect(String(describing: error).hasPrefix("redis refused AUTH: WRONGPASS"))
                #expect(!String(describing: error).contains("wrong-password"))
            }
            let unauthenticated = try server.connect()
            #expect(try unauthenticated.call(["GET", "k"]).description.hasPrefix("-NOAUTH"))
        }
        await server.stop()
    }

    @Test("pub/sub: a message published on one connection arrives on the subscriber's")
    func publishSubscribe() async throws {
        let server = try await RedisServerFixture()
        let message = try await RedisServerFixture.blocking {
            let subscriber = try server.connect()
            try subscriber.send(["SUBSCRIBE", "greylist:changes"])
            #expect(try subscriber.receive() == .array([.bulkString(Array("subscribe".utf8)), .bulkString(Array("greylist:changes".utf8)), .integer(1)]))
            let publisher = try server.connect()
            #expect(try publisher.call(["PUBLISH", "greylist:changes", "ban 203.0.113.7/32"]) == .integer(1))
            return try subscriber.receive()
        }
        #expect(message == .array([.bulkString(Array("message".utf8)), .bulkString(Array("greylist:changes".utf8)),
                                   .bulkString(Array("ban 203.0.113.7/32".utf8))]))
        await server.stop()
    }

    @Test("a server that is gone: connect is refused, naming the address; a killed server mid-call is 'closed'; a silent one times out")
    func failures() async throws {
        let port = try RedisServerFixture.freePort()
        let refused = await RedisServerFixture.blocking { () -> String in
            do {
                _ = try RedisConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(500))
                return "connected"
            } catch {
                return String(describing: error)
            }
        }
        #expect(refused == "redis 127.0.0.1:\(port): cannot connect: Connection refused")

        let server = try await RedisServerFixture()
        let closed = try await RedisServerFixture.blocking { () -> String in
            let connection = try server.connect()
            server.stopBlocking()
            do {
                _ = try connection.call(["PING"])
                return "answered"
            } catch {
                return String(describing: error)
            }
        }
        #expect(closed == "redis 127.0.0.1:\(server.port): the server closed the connection")

        // A listener that accepts and never answers: the command times out.
        let silent = try await RedisServerFixture(["--requirepass", "x"])
        let timedOut = try await RedisServerFixture.blocking { () -> String in
            let connection = try RedisConnection(host: "127.0.0.1", port: silent.port, timeout: .milliseconds(300))
            try connection.send(["SUBSCRIBE"])  // wrong arity: an error comes back at once …
            _ = try connection.receive()
            do {
                _ = try connection.receive(timeout: .milliseconds(200))  // … and then nothing
                return "answered"
            } catch {
                return String(describing: error)
            }
        }
        #expect(timedOut.hasPrefix("redis: no answer in time (reading from 127.0.0.1:"))
        await silent.stop()
    }
}
