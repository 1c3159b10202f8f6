import Dispatch
import Foundation
import Glibc
import Greylist
import Synchronization

/// The demo XMPP server: a listener whose accept loop asks the greylist before reading or writing
/// a byte, client streams that report failed logins, the admin socket, reload and shutdown.
///
/// `@unchecked Sendable`: every mutable property is touched only on `queue`; Dispatch sources
/// are not `Sendable`, so the compiler cannot check it. What the accept thread needs (the open
/// connections and the settings for new ones) sits in `registry`, behind a `Mutex`.
final class DemoServer: @unchecked Sendable {
    let greylist: Greylist
    let log: Log
    private let queue = DispatchQueue(label: "greylist.demo.server")
    private let configurationPath: String?
    private var configuration: DemoConfiguration
    private var acceptLoop: AcceptLoop?
    private var summaryTimer: DispatchSourceTimer?
    private var lastStatistics = GreylistStatistics()
    private var purgeTask: Task<Void, Never>?
    private var admin: AdminServer?
    private var stopping = false
    private let registry: Mutex<Registry>

    /// Open connections and what the accept thread needs to admit new ones.
    private struct Registry {
        var connections: [ObjectIdentifier: Connection] = [:]
        var maxConnections: Int
        var settings: XMPPSettings
        var limits: ConnectionLimits
        var admitting = true
    }

    /// The port the listener is bound to, known after ``start()``.
    private(set) var port = 0

    init(configuration: DemoConfiguration, configurationPath: String?, log: Log) throws(GreylistError) {
        self.configuration = configuration
        self.configurationPath = configurationPath
        self.log = log
        self.registry = Mutex(Registry(maxConnections: configuration.server.maxConnections,
                                       settings: Self.sessionSettings(configuration.server),
                                       limits: Self.connectionLimits(configuration.server)))
        self.greylist = try Greylist(configuration: configuration.greylist, events: { event in
            switch event {
            case .refused, .counterEvicted, .banEvicted:
                // Per-connection and per-eviction lines are what make a flood expensive to log:
                // these are summarised periodically instead.
                break
            case .failureRecorded(_, _, let kind, let outcome):
                if case .banned = outcome { return }  // the ban line says it all
                log.info(kind == .invalidCredentials ? event.description : "\(event.description) (not counted)")
            default:
                log.info(event.description)
            }
        })
    }

    /// Binds, starts accepting, serving admin requests and purging; returns the bound port.
    ///
    /// - Throws: ``SystemError`` naming the address that could not be bound.
    @discardableResult
    func start() throws -> Int {
        let server = configuration.server
        let address = try ListenAddress(host: server.host, port: server.port)
        let descriptor = try address.listen()
        let boundPort = try Syscalls.localPort(descriptor)
        if !server.adminSocket.isEmpty {
            let admin = AdminServer(path: server.adminSocket, greylist: greylist, log: log)
            do {
                try admin.start()
            } catch {
                Syscalls.close(descriptor)
                throw error
            }
            self.admin = admin
        }
        let loop = AcceptLoop(descriptor: descriptor, greylist: greylist, log: log) { [self] client, peer in
            admit(client, peer)
        }
        queue.sync {
            port = boundPort
            acceptLoop = loop
            scheduleSummary(every: server.refusalSummaryInterval)
        }
        loop.start()
        purgeTask = Task { [greylist] in await greylist.run() }
        logSettings(listening: (try? ListenAddress(host: server.host, port: boundPort))?.description ?? "port \(boundPort)")
        return boundPort
    }

    /// Takes a connection the greylist let in, unless the server is full or stopping.
    /// Runs on the accept thread.
    private func admit(_ client: Int32, _ peer: IPAddress) -> Bool {
        let admitted = registry.withLock { registry -> Connection? in
            guard registry.admitting, registry.connections.count < registry.maxConnections,
                  (try? Syscalls.setNonBlocking(client)) != nil else { return nil }
            let connection = Connection(
                descriptor: client, peer: peer, greylist: greylist, settings: registry.settings, limits: registry.limits,
                queue: DispatchQueue(label: "greylist.demo.connection", target: .global()),
                onClose: { [self] closed in self.registry.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(closed)) } }
            )
            registry.connections[ObjectIdentifier(connection)] = connection
            return connection
        }
        admitted?.start()
        return admitted != nil
    }

    private static func sessionSettings(_ server: ServerConfiguration) -> XMPPSettings {
        XMPPSettings(domain: server.domain, users: server.users, maxStanzaBytes: server.maxStanzaBytes,
                     maxDepth: server.maxDepth, maxAuthAttempts: server.maxAuthAttempts)
    }

    private static func connectionLimits(_ server: ServerConfiguration) -> ConnectionLimits {
        func interval(_ duration: Duration) -> DispatchTimeInterval {
            let (seconds, attoseconds) = duration.components
            return .milliseconds(Int(clamping: seconds * 1_000 + attoseconds / 1_000_000_000_000_000))
        }
        let shortest = min(server.headerTimeout, server.authTimeout, server.idleTimeout)
        return ConnectionLimits(
            headerTimeout: interval(server.headerTimeout), authTimeout: interval(server.authTimeout),
            idleTimeout: interval(server.idleTimeout),
            headerTimeoutText: server.headerTimeout.configurationText, authTimeoutText: server.authTimeout.configurationText,
            idleTimeoutText: server.idleTimeout.configurationText,
            maxOutboxBytes: max(server.maxStanzaBytes * 4, 262_144),
            timerResolution: interval(min(max(shortest / 10, .milliseconds(20)), .seconds(1)))
        )
    }

    // MARK: - Summaries

    private func scheduleSummary(every interval: Duration) {
        summaryTimer?.cancel()
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let milliseconds = Int(clamping: interval.components.seconds * 1_000 + interval.components.attoseconds / 1_000_000_000_000_000)
        timer.schedule(deadline: .now() + .milliseconds(milliseconds), repeating: .milliseconds(milliseconds))
        timer.setEventHandler { [self] in summarize() }
        summaryTimer = timer
        timer.resume()
    }

    /// One line per interval with refusals and evictions, only when something happened.
    private func summarize() {
        let (refused, overCapacity) = acceptLoop?.takeCounts() ?? (0, 0)
        let open = openConnections
        Task { [self] in
            let statistics = await greylist.statistics()
            queue.async { [self] in
                let previous = lastStatistics
                lastStatistics = statistics
                let bansEvicted = statistics.bansEvicted - previous.bansEvicted
                let countersEvicted = statistics.countersEvicted - previous.countersEvicted
                let wouldHaveRefused = statistics.wouldHaveRefused - previous.wouldHaveRefused
                guard refused + overCapacity + bansEvicted + countersEvicted + wouldHaveRefused > 0 else { return }
                log.info("summary: refused \(refused) connections, would have refused \(wouldHaveRefused) (dry run), "
                    + "closed \(overCapacity) over the connection cap, evicted \(bansEvicted) bans and \(countersEvicted) counters; "
                    + "\(statistics.activeBans) bans active, \(open) connections open, \(statistics.refused) refused in all")
            }
        }
    }

    private func logSettings(listening: String) {
        let server = configuration.server
        let greylist = configuration.greylist
        log.info("listening on \(listening) for domain \(server.domain) with \(server.users.count) account(s); "
            + "max \(server.maxConnections) connections, stanzas up to \(server.maxStanzaBytes) bytes")
        let rules = greylist.rules.map {
            "\($0.name) (\($0.pattern ?? "any failure"), \($0.maxFailures) in \($0.window.configurationText), ban \($0.banFor.configurationText))"
        }
        let allowlist = greylist.allowlist.isEmpty ? "none" : greylist.allowlist.map(\.description).joined(separator: ", ")
        log.info("greylist: rules \(rules.joined(separator: ", ")); allowlist \(allowlist); dry run \(greylist.dryRun)"
            + "; admin socket \(server.adminSocket.isEmpty ? "off" : server.adminSocket)")
    }

    // MARK: - Reload and shutdown

    /// Re-reads the configuration file: rules, allowlist, limits and accounts change; bans and
    /// counters stay. An invalid file is rejected and the running configuration kept.
    ///
    /// - Parameter completion: Called with whether the new configuration took effect.
    func reload(completion: @escaping @Sendable (Bool) -> Void = { _ in }) {
        queue.async { [self] in
            guard let configurationPath else {
                log.warning("reload: started without --config, nothing to reload")
                completion(false)
                return
            }
            let fresh: DemoConfiguration
            do {
                fresh = try DemoConfiguration(contentsOf: configurationPath)
            } catch {
                log.error("reload rejected, keeping the running configuration: \(error)")
                completion(false)
                return
            }
            Task { [self] in
                do {
                    try await greylist.apply(fresh.greylist)
                } catch {
                    log.error("reload rejected, keeping the running configuration: \(error)")
                    completion(false)
                    return
                }
                queue.async { [self] in
                    let old = configuration.server
                    configuration.greylist = fresh.greylist
                    configuration.server = fresh.server
                    if fresh.server.host != old.host || fresh.server.port != old.port || fresh.server.adminSocket != old.adminSocket {
                        configuration.server.host = old.host
                        configuration.server.port = old.port
                        configuration.server.adminSocket = old.adminSocket
                        log.warning("reload: host, port and adminSocket changes take effect on restart")
                    }
                    let server = configuration.server
                    registry.withLock { registry in
                        registry.maxConnections = server.maxConnections
                        registry.settings = Self.sessionSettings(server)
                        registry.limits = Self.connectionLimits(server)
                    }
                    scheduleSummary(every: fresh.server.refusalSummaryInterval)
                    log.info("reload applied from \(configurationPath); bans and counters kept")
                    completion(true)
                }
            }
        }
    }

    /// Stops accepting, ends every stream with `system-shutdown`, and calls `completion` when all
    /// are closed (or after `grace`).
    func stop(grace: DispatchTimeInterval = .seconds(3), completion: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            guard !stopping else { return }
            stopping = true
            acceptLoop?.stop()
            let open = registry.withLock { registry -> [Connection] in
                registry.admitting = false
                return Array(registry.connections.values)
            }
            log.info("shutting down: closing \(open.count) stream(s)")
            summaryTimer?.cancel()
            purgeTask?.cancel()
            admin?.stop()
            for connection in open { connection.shutDown() }
            waitForConnections(until: .now() + grace, completion: completion)
        }
    }

    private func waitForConnections(until deadline: DispatchTime, completion: @escaping @Sendable () -> Void) {
        if openConnections == 0 || DispatchTime.now() >= deadline {
            Task { [greylist, log] in
                await greylist.closeStore()
                log.info("stopped")
                completion()
            }
            return
        }
        queue.asyncAfter(deadline: .now() + .milliseconds(20)) { [self] in
            waitForConnections(until: deadline, completion: completion)
        }
    }

    /// SIGTERM and SIGINT stop the server (then `onStopped`); SIGHUP reloads.
    func handle(signal signalNumber: Int32, onStopped: @escaping @Sendable () -> Void) {
        if signalNumber == SIGHUP {
            log.info("SIGHUP: reloading")
            reload()
        } else {
            stop(completion: onStopped)
        }
    }

    /// Open client connections now (for tests and summaries).
    var openConnections: Int {
        registry.withLock { $0.connections.count }
    }
}
