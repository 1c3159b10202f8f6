import Dispatch
import Foundation
import Glibc
import Testing

/// The line-protocol example as a user runs it: a child process on a free loopback port, real
/// sockets from chosen 127.x sources, a restart on the same state directory, SIGTERM.
@Suite(.serialized) struct LineLoginExampleTests {
    /// The example binary, beside this test binary.
    static var executable: String {
        get throws {
            let testBinary = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            return testBinary.deletingLastPathComponent().appendingPathComponent("LineLoginExample").path
        }
    }

    /// Runs blocking socket and pipe work on a queue of its own, never on the concurrency pool.
    static func blocking<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "line-login-test").async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// The example started on `state`, with the port it logged.
    static func start(state: String) async throws -> (Process, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = ["--port", "0", "--state", state]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = try await blocking { () -> String in
            var text = ""
            let deadline = Date().addingTimeInterval(20)
            while !text.contains("listening on 127.0.0.1:") || !text.hasSuffix("\n"), deadline.timeIntervalSinceNow > 0 {
                var poller = pollfd(fd: errors.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, Int32(deadline.timeIntervalSinceNow * 1_000)) > 0 else { break }
                let data = errors.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            return text
        }
        let port = log.split(separator: "listening on 127.0.0.1:").last.flatMap { Int($0.prefix { $0.isNumber }) }
        return (process, try #require(port, "no port in the log: \(log)"))
    }

    /// Stops the example with SIGTERM; its exit status (killed, and -1, after 20 s).
    static func stop(_ process: Process) async throws -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        return try await blocking {
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning && deadline.timeIntervalSinceNow > 0 { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return -1 }
            return process.terminationStatus
        }
    }

    /// Connects from `source`, sends each line, and returns the answers read (10 s deadline each;
    /// an empty answer: the server closed the connection).
    static func session(port: Int, from source: String, lines: [String]) async throws -> [String] {
        try await blocking {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(descriptor) }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            func address(_ text: String, _ port: Int) -> sockaddr_in {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                inet_pton(AF_INET, text, &address.sin_addr)
                return address
            }
            var local = address(source, 0)
            var remote = address("127.0.0.1", port)
            let size = socklen_t(MemoryLayout<sockaddr_in>.size)
            guard withUnsafePointer(to: &local, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, size) } }) == 0,
                  withUnsafePointer(to: &remote, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, size) } }) == 0
            else { throw POSIXError(.ECONNREFUSED) }
            var answers: [String] = []
            // With no line to send, one read: "" when the server closed the connection unasked.
            for line in lines.isEmpty ? [nil] : lines.map(Optional.some) {
                if let line { _ = (line + "\n").withCString { send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
                var answer = [UInt8]()
                var byte: UInt8 = 0
                while recv(descriptor, &byte, 1, 0) == 1 {
                    if byte == UInt8(ascii: "\n") { break }
                    answer.append(byte)
                }
                answers.append(String(decoding: answer, as: UTF8.self))
                if answer.isEmpty { break }
            }
            return answers
        }
    }

    @Test("a bot is banned at its second unknown name and refused before a byte; a user logs in; the ban survives a restart; SIGTERM exits 0")
    func endToEnd() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("line-login-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        var (server, port) = try await Self.start(state: state)
        #expect(try await Self.session(port: port, from: "127.0.0.21", lines: ["LOGIN alice correct horse battery staple"]).first == "OK")
        let bot = try await Self.session(port: port, from: "127.0.0.22", lines: ["LOGIN admin x", "LOGIN test x", "LOGIN root x"])
        #expect(bot == ["DENIED", "DENIED", ""], "the second unknown name bans, and the connection ends after its answer")
        #expect(try await Self.session(port: port, from: "127.0.0.22", lines: []) == [""], "refused before a byte")
        #expect(try await Self.stop(server) == 0)

        (server, port) = try await Self.start(state: state)
        #expect(try await Self.session(port: port, from: "127.0.0.22", lines: ["LOGIN alice correct horse battery staple"]) == [""],
                "the ban came back from the state directory")
        #expect(try await Self.session(port: port, from: "127.0.0.21", lines: ["LOGIN alice wrong", "LOGIN alice correct horse battery staple"])
                == ["DENIED", "OK"])
        #expect(try await Self.stop(server) == 0)
    }

    @Test("the README's code is this example's: every line of its snippet is in the source, in order")
    func readmeSnippet() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = "<!-- snippet: Examples/Sources/LineLoginExample/LineLoginServer.swift -->\n```swift\n"
        let start = try #require(readme.range(of: marker), "the README has no snippet marker")
        let end = try #require(readme.range(of: "\n```", range: start.upperBound..<readme.endIndex))
        let snippet = readme[start.upperBound..<end.lowerBound].split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let source = try String(contentsOf: repository.appendingPathComponent("Examples/Sources/LineLoginExample/LineLoginServer.swift"), encoding: .utf8)
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var position = source.startIndex
        for line in snippet {
            guard let found = source[position...].firstIndex(of: line) else {
                Issue.record("README line not in the example (or out of order): \(line)")
                return
            }
            position = found + 1
        }
        #expect(snippet.count >= 15)
    }
}
