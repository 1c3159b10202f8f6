import GreylistTestSupport
import GreylistAdmin
import GreylistSystem
import Foundation
import Glibc
import Testing
import Greylist
@testable import GreylistDemoServer

/// The demo server as a child process: exit codes, signals, and messages on bad input.
@Suite(.serialized) struct DemoProcessTests {
    /// The demo executable, built next to the test bundle.
    static var executable: URL {
        get throws {
            let testBinary = URL(fileURLWithPath: (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")))
            let candidate = testBinary.deletingLastPathComponent().appendingPathComponent("GreylistDemoServer")
            guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidate.path])
            }
            return candidate
        }
    }

    struct Child {
        let process: Process
        let errors: Pipe
        let ended: DispatchSemaphore

        /// Whether the child exited within `seconds`; a child that did not is killed, so a
        /// regression fails the test instead of hanging the suite.
        func exited(within seconds: Double = 20) async -> Bool {
            let ended = ended
            let process = process
            return await Blocking.run {
                guard ended.wait(timeout: .now() + seconds) == .success else {
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    return false
                }
                process.waitUntilExit()
                return true
            }
        }

        var log: String {
            String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
        }
    }

    /// Starts the demo with `arguments`; with `descriptorLimit`, through a shell that first
    /// lowers its soft limit on open descriptors.
    func launch(_ arguments: [String], descriptorLimit: Int? = nil) throws -> Child {
        let process = Process()
        if let descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", try Self.executable.path] + arguments
        } else {
            process.executableURL = try Self.executable
            process.arguments = arguments
        }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        try process.run()
        return Child(process: process, errors: errors, ended: ended)
    }

    /// Reads the child's log until `marker` appears, the pipe closes, or 20 s pass (a broken
    /// child fails the test instead of hanging the suite), off the concurrency pool.
    func readLog(_ child: Child, until marker: String) async -> String {
        let descriptor = child.errors.fileHandleForReading.fileDescriptor
        return await Blocking.run {
            var text = ""
            var chunk = [UInt8](repeating: 0, count: 4_096)
            let deadline = Date().addingTimeInterval(20)
            while !text.contains(marker) {
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let remaining = Int32(max(0, deadline.timeIntervalSinceNow) * 1_000)
                guard remaining > 0, poll(&poller, 1, remaining) > 0 else { break }
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                text += String(decoding: chunk[..<count], as: UTF8.self)
            }
            return text
        }
    }

    func writeConfig(_ json: String) throws -> String {
        let path = NSTemporaryDirectory() + "greylist-process-\(UInt32.random(in: 0...UInt32.max)).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a bad flag or file exits non-zero with a message naming the value, and starts nothing")
    func badStart() async throws {
        let badFlag = try launch(["--port", "99999"])
        #expect(await badFlag.exited())
        #expect(badFlag.process.terminationStatus == 2)
        #expect(await readLog(badFlag, until: "\n").contains("\"99999\""))

        let path = try writeConfig(#"{"server": {"port": 0, "adminSocket": ""}, "greylist": {"stateDirectory": "", "rules": [{"name": "x", "banfor": "4h"}]}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let badFile = try launch(["--config", path])
        #expect(await badFile.exited())
        #expect(badFile.process.terminationStatus == 1)
        let log = await readLog(badFile, until: "banfor")
        #expect(log.contains("greylist.rules[0].banfor"))
        #expect(!log.contains("listening"))
    }

    /// Runs the admin command against `socket`; returns its exit status and output. Off the
    /// concurrency pool: the command waits for this process's server, which needs the pool.
    func admin(_ arguments: [String], socket: String) async throws -> (status: Int32, output: String) {
        let executable = try Self.executable
        return try await Blocking.run {
            // Bounded: the admin command has its own 10 s timeout; past 20 s it is killed.
            let result = try Processes.run(executable, ["admin"] + arguments + ["--socket", socket])
            return (result.status, result.output + result.errors)
        }
    }

    @Test("the admin command bans, lists and unbans a running server, readable or as JSON")
    func adminCommand() async throws {
        let fixture = try DemoServerFixture()
        let banned = try await admin(["ban", "203.0.113.0/24", "--for", "2h", "--reason", "abuse desk"], socket: fixture.adminSocket)
        #expect(banned.status == 0)
        #expect(banned.output.contains("203.0.113.0/24"))
        #expect(banned.output.contains("manual \"abuse desk\""))

        let listed = try await admin(["list", "--json"], socket: fixture.adminSocket)
        #expect(listed.status == 0)
        let response = try JSONDecoder().decode(GreylistAdminResponse.self, from: Data(listed.output.utf8))
        #expect(response.bans?.map(\.network) == ["203.0.113.0/24"])

        let statistics = try await admin(["stats"], socket: fixture.adminSocket)
        #expect(statistics.output.contains("manualBans"))
        let bad = try await admin(["unban", "203.0.113.0/33"], socket: fixture.adminSocket)
        #expect(bad.status == 1)
        #expect(bad.output.contains("\"203.0.113.0/33\""))
        #expect(try await admin(["unban", "203.0.0.0/16"], socket: fixture.adminSocket).output.contains("lifted 1 ban(s)"))
        await fixture.stop()
        #expect(try await admin(["list"], socket: fixture.adminSocket).status == 1)
    }

    @Test("a state directory that cannot be used stops start-up with a message naming it")
    func unusableStateDirectory() async throws {
        let path = try writeConfig(#"{"server": {"port": 0, "adminSocket": ""}, "greylist": {"stateDirectory": "/dev/null/state"}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let child = try launch(["--config", path])
        #expect(await child.exited())
        #expect(child.process.terminationStatus == 1)
        let log = await readLog(child, until: "/dev/null/state")
        #expect(log.contains("not started: state store /dev/null/state: mkdir"))
    }

    @Test("start-up says what each rule counts, and what the state directory held, by its absolute path")
    func startupSummary() async throws {
        let directory = temporaryStateDirectory()
        let socket = "/tmp/greylist-process-\(UInt32.random(in: 0...UInt32.max)).sock"
        let store = try await JournalStore.open(directory: directory)
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(botnetPattern: "^bad_user_[0-9]{5,}$")),
                                    store: store)
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.9"))
        await greylist.recordSuccessfulAuth(user: "alice", ip: .literal("198.51.100.1"))
        await greylist.closeStore()
        let path = try writeConfig(#"{"server": {"port": 0, "adminSocket": "\#(socket)"}, "greylist": {"stateDirectory": "\#(directory)"}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let child = try launch(["--config", path])
        let log = await readLog(child, until: "loaded")
        #expect(log.contains("rules botnet: failures on names matching ^bad_user_[0-9]{5,}$, 1 within 10m, ban 4h; "
            + "unknown-accounts: unknown accounts, 2 within 1h, ban 4h; guessing: wrong passwords, 10 within 10m, ban 1h;"), "\(log)")
        #expect(log.contains("state directory \(directory): loaded 1 ban, 0 histories, 1 trusted key (1 account on them), "
            + "0 spent guess budgets, 0 bots' names, 0 added soft-trust networks"), "\(log)")
        kill(child.process.processIdentifier, SIGTERM)
        #expect(await child.exited())
    }

    @Test("SIGHUP reloads the file, SIGTERM stops with exit status 0")
    func signals() async throws {
        let socket = "/tmp/greylist-process-\(UInt32.random(in: 0...UInt32.max)).sock"
        let path = try writeConfig(#"{"server": {"port": 0, "adminSocket": "\#(socket)"}, "greylist": {"stateDirectory": ""}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let child = try launch(["--config", path])
        #expect(await readLog(child, until: "admin socket").contains("listening on 127.0.0.1:"))

        try #"{"server": {"port": 0, "adminSocket": "\#(socket)"}, "greylist": {"stateDirectory": "", "rules": [{"name": "renamed", "pattern": "^x"}]}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        kill(child.process.processIdentifier, SIGHUP)
        #expect(await readLog(child, until: "reload applied").contains("reconfigured: rules renamed"))

        try "{ not json".write(toFile: path, atomically: true, encoding: .utf8)
        kill(child.process.processIdentifier, SIGHUP)
        #expect(await readLog(child, until: "reload rejected").contains("keeping the running configuration"))

        kill(child.process.processIdentifier, SIGTERM)
        #expect(await child.exited())
        #expect(child.process.terminationReason == .exit)
        #expect(child.process.terminationStatus == 0)
    }

    @Test("out of descriptors, the admin server pauses (logging it once) instead of spinning, and serves again once they are free")
    func adminOutOfDescriptors() async throws {
        let socketPath = "/tmp/greylist-process-\(UInt32.random(in: 0...UInt32.max)).sock"
        let path = try writeConfig(#"{"server": {"port": 0, "adminSocket": "\#(socketPath)", "maxConnections": 8}, "greylist": {"stateDirectory": ""}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A child with a soft limit of 96 descriptors: 8 connections + 64 reserved fit, and a few
        // dozen idle admin clients exhaust the rest.
        let child = try launch(["--config", path], descriptorLimit: 96)
        #expect(await readLog(child, until: "admin socket").contains("listening on"))
        var idle: [Int32] = []
        for _ in 0..<120 {
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = try GreylistAdminServer.address(socketPath)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if connected == 0 { idle.append(descriptor) } else { close(descriptor) }
        }
        #expect(await readLog(child, until: "pausing admin accepts").contains("Too many open files"))
        for descriptor in idle { close(descriptor) }
        // Freed: the server answers again (its idle clients' reads end at their EOF).
        var answered = false
        for _ in 0..<50 where !answered {
            answered = try await admin(["stats"], socket: socketPath).status == 0
        }
        #expect(answered)
        kill(child.process.processIdentifier, SIGTERM)
        #expect(await child.exited())
    }
}
