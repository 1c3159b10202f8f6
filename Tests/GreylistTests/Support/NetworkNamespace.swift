import Foundation
import Glibc

/// A network namespace of its own for a test (`ip netns add`), with loopback up: firewall rules
/// made inside it touch nothing else on the machine. Deleted by ``delete()``.
struct NetworkNamespace: Sendable {
    let name: String

    /// Whether this machine lets a test create a namespace and run `nft` in it (root, or
    /// `CAP_SYS_ADMIN` and `CAP_NET_ADMIN`, and the `nftables` and `iproute2` packages).
    static let isAvailable: Bool = {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") || FileManager.default.isExecutableFile(atPath: "/sbin/nft"),
              let namespace = try? NetworkNamespace() else { return false }
        defer { namespace.delete() }
        return (try? namespace.run(["nft", "list", "tables"])) != nil
    }()

    /// Creates the namespace and brings its loopback up.
    init() throws {
        name = "greylist-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Self.command(["ip", "netns", "add", name])
        do {
            try Self.command(["ip", "-n", name, "link", "set", "lo", "up"])
        } catch {
            delete()
            throw error
        }
    }

    func delete() {
        _ = try? Self.command(["ip", "netns", "delete", name])
    }

    /// The arguments that run `arguments` inside the namespace.
    func wrapping(_ arguments: [String]) -> [String] {
        ["ip", "netns", "exec", name] + arguments
    }

    /// Runs a command inside the namespace and returns its standard output; throws when it fails.
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        try Self.command(wrapping(arguments))
    }

    /// Runs `body` on a new thread that has entered the namespace: sockets it creates live
    /// there (the thread, and only it, switches namespace; it ends with `body`).
    func inside<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) throws -> Value {
        let result = LockedResult<Value>()
        let done = DispatchSemaphore(value: 0)
        let path = "/var/run/netns/" + name
        let thread = Thread {
            defer { done.signal() }
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0, Self.enter(descriptor) == 0 else {
                result.set(.failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)))
                return
            }
            close(descriptor)
            result.set(Swift.Result { try body() })
        }
        thread.start()
        guard done.wait(timeout: .now() + 20) == .success else { throw POSIXError(.ETIMEDOUT) }
        return try result.get()
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

/// One result handed from a thread to its waiter.
private final class LockedResult<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<Value, any Error>?

    func set(_ result: Result<Value, any Error>) {
        lock.withLock { value = result }
    }

    func get() throws -> Value {
        try lock.withLock { value ?? .failure(POSIXError(.EIO)) }.get()
    }
}
