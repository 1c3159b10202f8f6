import GreylistTestSupport
import Foundation
import Glibc

/// A network namespace of its own for a test (`ip netns add`), with loopback up: firewall rules
/// made inside it touch nothing else on the machine. Deleted by ``delete()``.
struct NetworkNamespace: Sendable {
    let name: String

    /// Whether this machine lets a test create a namespace and run `nft` in it: the tools are
    /// installed (Debian's `nftables` and `iproute2`) and the process has `CAP_SYS_ADMIN` and
    /// `CAP_NET_ADMIN` (root). Read from files only: no process runs on the caller's thread.
    static let isAvailable: Bool = {
        let tools = ["/usr/sbin/nft", "/usr/sbin/ip", "/usr/bin/unshare"].allSatisfy(FileManager.default.isExecutableFile(atPath:))
        guard tools, let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let capabilities = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        let systemAdministration: UInt64 = 1 << 21
        let networkAdministration: UInt64 = 1 << 12
        return capabilities & systemAdministration != 0 && capabilities & networkAdministration != 0
    }()

    /// Creates a namespace, runs `body` with it, and deletes it whatever happens. Every command
    /// runs off the concurrency pool.
    static func with<Value: Sendable>(_ body: (NetworkNamespace) async throws -> Value) async throws -> Value {
        let namespace = try await Blocking.run { try NetworkNamespace() }
        do {
            let value = try await body(namespace)
            await Blocking.run { namespace.delete() }
            return value
        } catch {
            await Blocking.run { namespace.delete() }
            throw error
        }
    }

    /// Creates the namespace and brings its loopback up (blocking: use ``with(_:)``).
    private init() throws {
        name = "greylist-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Self.command(["ip", "netns", "add", name])
        do {
            try Self.command(["ip", "-n", name, "link", "set", "lo", "up"])
        } catch {
            delete()
            throw error
        }
    }

    private func delete() {
        _ = try? Self.command(["ip", "netns", "delete", name])
    }

    /// The arguments that run `arguments` inside the namespace.
    func wrapping(_ arguments: [String]) -> [String] {
        ["ip", "netns", "exec", name] + arguments
    }

    /// Runs a command inside the namespace, off the concurrency pool; returns its standard
    /// output and throws when it fails.
    @discardableResult
    func run(_ arguments: [String]) async throws -> String {
        let wrapped = wrapping(arguments)
        return try await Blocking.run { try Self.command(wrapped) }
    }

    /// Runs `body` on a new thread that has entered the namespace: sockets it creates live
    /// there (the thread, and only it, switches namespace; it ends with `body`). The caller
    /// suspends; no pool thread waits.
    func inside<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        let path = "/var/run/netns/" + name
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0, Self.enter(descriptor) == 0 else {
                    continuation.resume(throwing: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM))
                    return
                }
                close(descriptor)
                continuation.resume(with: Swift.Result { try body() })
            }
            thread.start()
        }
    }

    /// `setns(descriptor, CLONE_NEWNET)`: glibc has it, but its header hides it from Swift
    /// without `_GNU_SOURCE`, so it is looked up by name.
    private static func enter(_ descriptor: Int32) -> Int32 {
        typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return -1 }
        let cloneNewNetwork: Int32 = 0x4000_0000
        return unsafeBitCast(symbol, to: SetNamespace.self)(descriptor, cloneNewNetwork)
    }

    /// Runs a command to its end (at most 20 s); returns standard output, throws with standard error.
    @discardableResult
    static func command(_ arguments: [String]) throws -> String {
        let result = try Processes.run(URL(fileURLWithPath: "/usr/bin/env"), arguments)
        guard result.status == 0 else {
            throw CommandError(description: "\(arguments.joined(separator: " ")): exit \(result.status): \(result.errors)")
        }
        return result.output
    }

    struct CommandError: Error, CustomStringConvertible {
        var description: String
    }
}
