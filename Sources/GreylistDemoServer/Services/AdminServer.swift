import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Greylist
import GreylistRedis

/// Serves admin requests on a Unix socket (mode 0600): one JSON request line in, one JSON
/// response out, then close.
///
/// `@unchecked Sendable`: `listener` and `source` are touched only on `queue`; Dispatch sources
/// are not `Sendable`, so the compiler cannot check it.
final class AdminServer: ServerService, @unchecked Sendable {
    let name = "admin server"
    let path: String
    private let greylist: Greylist
    private let log: Log
    /// The cluster's Redis store, whose link `stats` reports.
    private let cluster: RedisStore?
    /// PROXY headers taken and refused, added to `stats`.
    private let proxyCounters: ProxyCounters?
    /// The widest networks `ban` takes without `force` (IPv4, IPv6 prefix lengths).
    private let widestBan: (ipv4: Int, ipv6: Int)
    private let queue = DispatchQueue(label: "greylist.demo.admin")
    private var source: DispatchSourceRead?
    /// Whether `source` is suspended after running out of descriptors.
    private var paused = false
    private let ended = Completion()

    init(path: String, greylist: Greylist, log: Log, cluster: RedisStore? = nil, proxyCounters: ProxyCounters? = nil,
         widestBan: (ipv4: Int, ipv6: Int) = (16, 32)) {
        self.widestBan = widestBan
        self.proxyCounters = proxyCounters
        self.path = path
        self.greylist = greylist
        self.log = log
        self.cluster = cluster
    }

    /// Binds the socket, replacing a stale one left by a crash.
    func start() throws(SystemError) {
        let descriptor = try Syscalls.socket(family: Syscalls.unixFamily, type: Syscalls.streamSocket)
        do {
            var address = try Self.address(path)
            Syscalls.unlink(path)
            try withUnsafeBytes(of: &address) { (bytes) throws(SystemError) in
                try Syscalls.bind(descriptor, bytes.baseAddress!, length: bytes.count, subject: path)
            }
            Syscalls.setMode(path, 0o600)
            try Syscalls.listen(descriptor, backlog: 16)
            try Syscalls.setNonBlocking(descriptor)
        } catch {
            Syscalls.close(descriptor)
            throw error
        }
        queue.sync {
            let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            source.setEventHandler { [self] in acceptClients(descriptor) }
            source.setCancelHandler { [path, ended] in
                Syscalls.close(descriptor)
                Syscalls.unlink(path)
                ended.signal()
            }
            self.source = source
            source.resume()
        }
    }

    /// Stops accepting admin clients and returns once the socket is closed and its file removed.
    func stop() async {
        let running = queue.sync { () -> Bool in
            guard let source else { return false }
            if paused {
                paused = false
                source.resume()  // a suspended source would never run its cancel handler
            }
            source.cancel()
            self.source = nil
            return true
        }
        if running { await ended.wait() }
    }

    static func address(_ path: String) throws(SystemError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("socket path", path, code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
        }
        return address
    }

    /// Whether a peer with user id `peer` may use the admin socket of a server running as
    /// `server`: the same user, or root.
    static func isAllowed(peer: UInt32, server: UInt32) -> Bool {
        peer == server || peer == 0
    }

    private func acceptClients(_ listener: Int32) {
        while true {
            var storage = sockaddr_storage()
            let client = Syscalls.accept(listener, into: &storage)
            guard client >= 0 else {
                let code = Syscalls.errorNumber
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM, let source {
                    // Out of descriptors: the listener stays readable, so waiting for the next
                    // event would spin. Stop watching it for 100 ms.
                    log.warning("\(SystemError("admin accept", path, code: code)); pausing admin accepts for 100 ms")
                    source.suspend()
                    paused = true
                    queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [weak self] in
                        guard let self, paused, let source = self.source else { return }
                        paused = false
                        source.resume()
                    }
                }
                return
            }
            guard let peer = Syscalls.peerUser(client), Self.isAllowed(peer: peer, server: Syscalls.effectiveUser) else {
                log.warning("admin: refused a client of uid \(Syscalls.peerUser(client).map(String.init) ?? "unknown") on \(path)")
                Syscalls.close(client)
                continue
            }
            // Admin clients are rare and local: serve each with blocking I/O (5 s timeouts) on a
            // queue of its own (an overcommit thread), never on the Swift concurrency pool or
            // the width-limited global queue that the server's connections share.
            DispatchQueue(label: "greylist.demo.admin.client").async { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        try? Syscalls.setBlocking(client, true)
        Syscalls.setTimeouts(client, seconds: 5)
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while !request.contains(UInt8(ascii: "\n")) && request.count < 65_536 {
            let count = chunk.withUnsafeMutableBytes { Syscalls.read(client, into: $0) }
            guard count > 0 else { break }
            request += chunk[..<count]
        }
        let line = request.prefix { $0 != UInt8(ascii: "\n") }
        Task { [self] in
            let response = await handle(Data(line))
            DispatchQueue(label: "greylist.demo.admin.reply").async {
                var bytes = (try? JSONEncoder().encode(response)) ?? Data("{\"ok\":false}".utf8)
                bytes.append(UInt8(ascii: "\n"))
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { Syscalls.write(client, $0) }
                    guard written > 0 else { break }
                    offset += written
                }
                Syscalls.close(client)
            }
        }
    }

    /// Runs one request against the greylist.
    func handle(_ line: Data) async -> AdminResponse {
        guard let request = try? JSONDecoder().decode(AdminRequest.self, from: line) else {
            return AdminResponse(ok: false, error: "not a JSON admin request")
        }
        switch request.command {
        case "list":
            var network: IPNetwork?
            do {
                network = try request.network.map { text throws(GreylistError) in try IPNetwork(text) }
            } catch {
                return AdminResponse(ok: false, error: "\(error)")
            }
            if let limit = request.limit, limit < 1 {
                return AdminResponse(ok: false, error: "limit \(limit) is not a positive number")
            }
            let bans = await greylist.list(limit: request.limit, overlapping: network)
            let total = request.limit == nil || bans.count < request.limit! ? bans.count : await greylist.countBans(overlapping: network)
            return AdminResponse(ok: true, bans: bans.map(AdminBan.init), total: total)
        case "export":
            let snapshot = await greylist.export()
            return AdminResponse(ok: true, bans: snapshot.bans.map(AdminBan.init), histories: snapshot.histories.map(AdminHistory.init))
        case "stats":
            let statistics = await greylist.statistics().dictionary.merging(proxyCounters?.statistics ?? [:]) { first, _ in first }
            return AdminResponse(ok: true, statistics: statistics, cluster: cluster?.status.description)
        case "ban", "unban":
            guard let text = request.network else {
                return AdminResponse(ok: false, error: "\(request.command) needs a network")
            }
            do {
                let network = try IPNetwork(text)
                if request.command == "unban" {
                    let lifted = await greylist.unban(network)
                    log.info("admin: unban \(network) lifted \(lifted.count) ban(s)")
                    return AdminResponse(ok: true, bans: lifted.map(AdminBan.init))
                }
                let widest = network.address.isIPv4 ? widestBan.ipv4 : widestBan.ipv6
                guard network.prefixLength >= widest || request.force == true else {
                    return AdminResponse(ok: false, error: "\(network) is wider than /\(widest) (server.adminWidestBan): "
                        + "it would refuse \(network.prefixLength == 0 ? "every client of that family" : "a whole provider's clients"); add --force to ban it anyway")
                }
                let duration = try Self.duration(request.duration ?? "1h")
                let entry = try await greylist.ban(network, for: duration, reason: request.reason ?? "admin")
                return AdminResponse(ok: true, bans: [AdminBan(entry)])
            } catch {
                return AdminResponse(ok: false, error: "\(error)")
            }
        case "trusted", "distrust":
            var network: IPNetwork?
            do {
                network = try request.network.map { text throws(GreylistError) in try IPNetwork(text) }
            } catch {
                return AdminResponse(ok: false, error: "\(error)")
            }
            guard request.command == "trusted" else {
                guard let network else { return AdminResponse(ok: false, error: "distrust needs a network") }
                let revoked = await greylist.revokeTrust(network)
                log.info("admin: distrust \(network) took trust from \(revoked.count) key(s)")
                return AdminResponse(ok: true, trusted: revoked.map(AdminTrust.init))
            }
            var response = await softTrustResponse()
            response.trusted = await greylist.trusted(inside: network).map(AdminTrust.init)
            return response
        case "soft-trust", "soft-untrust":
            guard let text = request.network else {
                return AdminResponse(ok: false, error: "\(request.command) needs a network")
            }
            do {
                let network = try IPNetwork(text)
                let changed = request.command == "soft-trust" ? try await greylist.addSoftTrust(network) : await greylist.removeSoftTrust(network)
                log.info("admin: \(request.command) \(network)\(changed ? "" : " (no change)")")
                var response = await softTrustResponse()
                response.changed = changed
                return response
            } catch {
                return AdminResponse(ok: false, error: "\(error)")
            }
        default:
            return AdminResponse(ok: false, error: "unknown command \"\(request.command)\" (use list, trusted, stats, export, ban, unban, distrust, soft-trust or soft-untrust)")
        }
    }

    /// The soft-trust lists: the configuration's, and those added with `soft-trust`.
    private func softTrustResponse() async -> AdminResponse {
        let added = await greylist.addedSoftTrustNetworks
        let all = await greylist.softTrustNetworks
        return AdminResponse(ok: true, softTrust: all.filter { !added.contains($0) }.map(\.description),
                             softTrustAdded: added.map(\.description))
    }

    /// Parses a duration the way the configuration file does.
    static func duration(_ text: String) throws(GreylistError) -> Duration {
        var issues: [ConfigurationIssue] = []
        var reader = ConfigurationReader(.object(["duration": .string(text)]), path: "", report: { issues.append($0) })
        let duration = reader.duration("duration", default: .zero)
        reader.finish()
        guard issues.isEmpty else { throw .invalidDuration(text, reason: issues[0].reason) }
        return duration
    }
}
