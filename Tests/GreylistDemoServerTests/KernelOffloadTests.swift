import GreylistTestSupport
import Foundation
import Glibc
import Testing
@testable import GreylistDemoServer

/// The kernel offload, with a real nftables in a network namespace the test creates: the demo
/// runs inside it, clients connect from inside it, and nothing outside is touched.
@Suite(.serialized, .enabled(if: NetworkNamespace.isAvailable,
                             "needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN), nftables and iproute2 to create a network namespace"))
struct KernelOffloadTests {
    /// The demo as a child process inside `namespace`, with its log gathered as it comes.
    ///
    /// `@unchecked Sendable`: `text` is only touched under `lock`; the rest is set once in `init`.
    final class Server: @unchecked Sendable {
        let process = Process()
        private let errors = Pipe()
        private let lock = NSLock()
        private var text = ""

        init(_ namespace: NetworkNamespace, configuration: String) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = namespace.wrapping([try DemoProcessTests.executable.path, "--config", configuration, "--verbose"])
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        /// Everything logged so far once `marker` is in it (at most 20 s: a regression fails, never hangs).
        @discardableResult
        func log(until marker: String) async -> String {
            let descriptor = errors.fileHandleForReading.fileDescriptor
            return await Blocking.run { [self] in
                let deadline = Date().addingTimeInterval(20)
                while !lock.withLock({ text.contains(marker) }) && deadline.timeIntervalSinceNow > 0 {
                    let more = Pipes.read(descriptor, until: "\n", within: deadline.timeIntervalSinceNow)
                    if more.isEmpty { break }
                    lock.withLock { text += more }
                }
                return lock.withLock { text }
            }
        }

        /// SIGTERM, then waits for the exit (killed past 20 s).
        func stop() async -> Int32 {
            kill(process.processIdentifier, SIGTERM)
            let process = process
            return await Blocking.run {
                let deadline = Date().addingTimeInterval(20)
                while process.isRunning && deadline.timeIntervalSinceNow > 0 { usleep(10_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                return process.terminationStatus
            }
        }
    }

    /// How a connection from `source` fares: refused by the kernel (a reset to the SYN), closed
    /// by the server before a byte, or served (the server sends its stream header).
    enum Fate: Equatable {
        case refusedByKernel, closedByServer, served
    }

    func fate(from source: String, in namespace: NetworkNamespace) async throws -> Fate {
        let client: TestSocket
        do {
            client = try await namespace.inside { try TestSocket(port: 5222, source: source) }
        } catch let error as POSIXError where error.code == .ECONNREFUSED {
            return .refusedByKernel
        }
        client.send(DemoServerFixture.header)
        // A served stream answers with its header; a refused one is closed without a byte.
        return await client.readOnce().isEmpty ? .closedByServer : .served
    }

    func elements(_ namespace: NetworkNamespace) async throws -> String {
        try await namespace.run(["nft", "list", "table", "inet", "greylist"])
    }

    @Test("qualifying bans are refused by the kernel before accept; short ones stay in user space; unban, stop and restart follow")
    func offload() async throws {
        try await NetworkNamespace.with { namespace in try await offload(in: namespace) }
    }

    /// A directory of the test's own (mode 0700) holding the admin socket, and a configuration
    /// file beside it made by `json` from the two paths; both removed by `cleanUp`.
    struct Setup {
        let directory = temporaryStateDirectory()
        var socket: String { directory + "/admin.sock" }
        var configuration: String { directory + ".json" }

        init(_ json: (_ directory: String, _ socket: String) -> String) throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try json(directory, directory + "/admin.sock").write(toFile: directory + ".json", atomically: true, encoding: .utf8)
        }

        func cleanUp() {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: configuration)
        }
    }

    func offload(in namespace: NetworkNamespace) async throws {
        let setup = try Setup { directory, socket in
            #"""
            {"server": {"port": 5222, "adminSocket": "\#(socket)", "kernelOffload": {"enabled": true, "minimumBan": "1h", "batchInterval": "10ms"}},
             "greylist": {"stateDirectory": "\#(directory)/state", "rules": [{"name": "botnet", "pattern": "^bad_user_[0-9]{5,}$", "banFor": "4h"}]}}
            """#
        }
        defer { setup.cleanUp() }
        let (socket, configuration) = (setup.socket, setup.configuration)
        let admin = DemoProcessTests()

        var server = try Server(namespace, configuration: configuration)
        await server.log(until: "kernel offload: table inet greylist, 0 ban(s)")
        #expect(try await fate(from: "127.0.0.7", in: namespace) == .served)

        // An operator's 2 h ban goes to the kernel; a 10 min one does not.
        #expect(try await admin.admin(["ban", "127.0.0.7/32", "--for", "2h"], socket: socket).status == 0)
        await server.log(until: "kernel offload: +1 -0, 1 in the kernel")
        #expect(try await admin.admin(["ban", "127.0.0.9/32", "--for", "10m"], socket: socket).status == 0)
        #expect(try await elements(namespace).contains("127.0.0.7 timeout"))
        #expect(try await !elements(namespace).contains("127.0.0.9"))
        #expect(try await fate(from: "127.0.0.7", in: namespace) == .refusedByKernel)
        #expect(try await fate(from: "127.0.0.9", in: namespace) == .closedByServer)
        #expect(try await fate(from: "127.0.0.8", in: namespace) == .served)
        let stats = try await admin.admin(["stats", "--json"], socket: socket).output
        #expect(stats.contains("\"refused\" : 1"), "the server saw only the user-space refusal: \(stats)")

        // A rule ban (4 h) from a failed login goes there too.
        let bot = try await namespace.inside { try TestSocket(port: 5222, source: "127.0.0.10") }
        bot.send(DemoServerFixture.header)
        await bot.read(until: "</stream:features>")
        bot.send(DemoServerFixture.plain("bad_user_34821", "x"))
        _ = await bot.readToEnd()
        await server.log(until: "kernel offload: +1 -0, 2 in the kernel")
        #expect(try await fate(from: "127.0.0.10", in: namespace) == .refusedByKernel)

        // Unban lifts it in the kernel too.
        #expect(try await admin.admin(["unban", "127.0.0.7/32"], socket: socket).status == 0)
        await server.log(until: "kernel offload: +0 -1, 1 in the kernel")
        #expect(try await fate(from: "127.0.0.7", in: namespace) == .served)

        // A clean stop leaves no firewall state; a restart rebuilds it from the state directory.
        #expect(await server.stop() == 0)
        #expect(try await !namespace.run(["nft", "list", "tables"]).contains("greylist"))
        server = try Server(namespace, configuration: configuration)
        await server.log(until: "kernel offload: table inet greylist, 1 ban(s)")
        #expect(try await fate(from: "127.0.0.10", in: namespace) == .refusedByKernel)
        #expect(try await fate(from: "127.0.0.7", in: namespace) == .served)
        #expect(await server.stop() == 0)
    }

    @Test("a ban longer than nft takes enters the kernel with the longest timeout (no failing batch); bans over a trusted proxy or the allowlist stay out")
    func limits() async throws {
        try await NetworkNamespace.with { namespace in try await limits(in: namespace) }
    }

    func limits(in namespace: NetworkNamespace) async throws {
        let setup = try Setup { _, socket in
            #"""
            {"server": {"port": 5222, "adminSocket": "\#(socket)", "trustedProxies": ["127.0.0.3/32"],
                        "kernelOffload": {"enabled": true, "minimumBan": "1h", "batchInterval": "10ms"}},
             "greylist": {"stateDirectory": "", "allowlist": ["127.0.0.4/32"]}}
            """#
        }
        defer { setup.cleanUp() }
        let (socket, configuration) = (setup.socket, setup.configuration)
        let admin = DemoProcessTests()
        let server = try Server(namespace, configuration: configuration)
        await server.log(until: "kernel offload: table inet greylist, 0 ban(s)")

        // nft refuses timeouts over 99,999,999 s: the element gets that much, the batch passes.
        #expect(try await admin.admin(["ban", "127.0.0.11/32", "--for", "2000d"], socket: socket).status == 0)
        await server.log(until: "kernel offload: +1 -0, 1 in the kernel")
        #expect(try await elements(namespace).contains("127.0.0.11 timeout 1157d9h46m39s"))
        #expect(try await fate(from: "127.0.0.11", in: namespace) == .refusedByKernel)

        // A ban over the trusted proxy, or over a network that holds it or the allowlist, stays in
        // user space: in the kernel it would reset every client behind the proxy.
        for network in ["127.0.0.3/32", "127.0.0.0/30", "127.0.0.4/32"] {
            #expect(try await admin.admin(["ban", network, "--for", "2h"], socket: socket).status == 0)
        }
        #expect(try await admin.admin(["ban", "127.0.0.12/32", "--for", "2h"], socket: socket).status == 0)
        let log = await server.log(until: "kernel offload: +1 -0, 2 in the kernel")
        let listed = try await elements(namespace)
        // nft shows whole seconds: a ban placed a millisecond before the batch shows 1h59m59s.
        #expect(listed.contains("127.0.0.12 timeout 2h") || listed.contains("127.0.0.12 timeout 1h59m"), "\(listed)")
        #expect(!listed.contains("127.0.0.3 ") && !listed.contains("127.0.0.0/30") && !listed.contains("127.0.0.4 "))

        // Banned again with another length, a key already in the kernel gets the new timeout
        // there (then a third key, whose count says the batch holding the change ran).
        #expect(try await admin.admin(["ban", "127.0.0.12/32", "--for", "5h"], socket: socket).status == 0)
        #expect(try await admin.admin(["ban", "127.0.0.13/32", "--for", "2h"], socket: socket).status == 0)
        let after = await server.log(until: "3 in the kernel")
        let relisted = try await elements(namespace)
        #expect(relisted.contains("127.0.0.12 timeout 5h") || relisted.contains("127.0.0.12 timeout 4h59m"), "\(relisted)")
        #expect(!log.contains("a batch failed") && !after.contains("a batch failed"))
        #expect(await server.stop() == 0)
    }

    @Test("without permission (a user namespace without CAP_NET_ADMIN over this network), one clear warning; refusing goes on in user space")
    func unavailable() async throws {
        try await NetworkNamespace.with { namespace in try await unavailable(in: namespace) }
    }

    func unavailable(in namespace: NetworkNamespace) async throws {
        let configuration = temporaryStateDirectory() + ".json"
        try #"{"server": {"port": 5222, "adminSocket": "", "kernelOffload": {"enabled": true}}, "greylist": {"stateDirectory": ""}}"#
            .write(toFile: configuration, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: configuration) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = namespace.wrapping(["unshare", "--user", try DemoProcessTests.executable.path, "--config", configuration])
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = await Blocking.read(errors.fileHandleForReading.fileDescriptor, until: "listening", within: 20)
        kill(process.processIdentifier, SIGTERM)
        await Blocking.run { process.waitUntilExit() }
        #expect(log.contains("WARN kernel offload unavailable (nft exited with 1: "))
        #expect(log.contains("banned sources are refused in user space only"))
        #expect(!log.contains("kernel offload: table"))
        #expect(log.components(separatedBy: "kernel offload").count == 2, "one line, not one per ban")
    }
}
