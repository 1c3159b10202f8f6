import Dispatch
import Foundation
import Glibc
import Greylist

/// The demo XMPP server: a listener whose accept loop asks the greylist before reading or writing
/// a byte, client streams that report failed logins, the admin socket, reload and shutdown.
///
/// `@unchecked Sendable`: every mutable property is touched only on `queue` (a serial queue that
/// also runs the accept loop); Dispatch sources are not `Sendable`, so the compiler cannot check it.
final class DemoServer: @unchecked Sendable {
    let greylist: Greylist
    let log: Log
    private let queue = DispatchQueue(label: "greylist.demo.server")
    private let configurationPath: String?
    private var configuration: DemoConfiguration
    private var listener: Int32 = -1
    private var acceptSource: DispatchSourceRead?
    private var summaryTimer: DispatchSourceTimer?
    private var signalSources: [DispatchSourceSignal] = []
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var refusedSinceSummary = 0
    private var overCapacitySinceSummary = 0
    private var lastStatistics = GreylistStatistics()
    private var purgeTask: Task<Void, Never>?
    private var admin: AdminServer?
    private var stopping = false
    private var acceptErrorLogged = DispatchTime(uptimeNanoseconds: 0)

    /// The port the listener is bound to, known after ``start()``.
    private(set) var port = 0

    init(configuration: DemoConfiguration, configurationPath: String?, log: Log) throws(GreylistError) {
        self.configuration = configuration
        self.configurationPath = configurationPath
        self.log = log
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
        queue.sync {
            listener = descriptor
            port = boundPort
            let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            source.setEventHandler { [self] in acceptAvailable() }
            source.setCancelHandler { Syscalls.close(descriptor) }
            acceptSource = source
            source.resume()
            scheduleSummary(every: server.refusalSummaryInterval)
        }
        purgeTask = Task { [greylist] in await greylist.run() }
        logSettings(listening: (try? ListenAddress(host: server.host, port: boundPort))?.description ?? "port \(boundPort)")
        return boundPort
    }

    /// Accepts every pending connection. Refused ones are closed before a byte is read or written.
    private func acceptAvailable() {
        // A bounded batch keeps summaries and shutdown responsive during a flood.
        for _ in 0..<512 {
            var storage = sockaddr_storage()
            let descriptor = Syscalls.accept(listener, into: &storage)
            guard descriptor >= 0 else {
                handleAcceptError(errno)
                return
            }
            guard let peer = IPAddress(socketAddress: storage) else {
                Syscalls.close(descriptor)
                continue
            }
            guard greylist.shouldAccept(ip: peer) else {
                Syscalls.close(descriptor)
                refusedSinceSummary += 1
                continue
            }
            guard !stopping, connections.count < configuration.server.maxConnections,
                  (try? Syscalls.setNonBlocking(descriptor)) != nil else {
                Syscalls.close(descriptor)
                overCapacitySinceSummary += 1
                continue
            }
            let connection = Connection(
                descriptor: descriptor, peer: peer, greylist: greylist, settings: sessionSettings, limits: connectionLimits,
                queue: DispatchQueue(label: "greylist.demo.connection", target: .global()),
                onClose: { [self] closed in queue.async { self.connections[ObjectIdentifier(closed)] = nil } }
            )
            connections[ObjectIdentifier(connection)] = connection
            connection.start()
        }
    }

    private func handleAcceptError(_ code: Int32) {
        switch code {
        case EAGAIN, EWOULDBLOCK, ECONNABORTED, EPROTO, EINTR:
            return
        case EMFILE, ENFILE, ENOBUFS, ENOMEM:
            // Out of descriptors or memory: pause accepting briefly instead of spinning; the
            // kernel keeps the backlog.
            if DispatchTime.now() > acceptErrorLogged + .seconds(10) {
                acceptErrorLogged = .now()
                log.warning("accept: \(SystemError("accept", code: code)); pausing accepts for 100 ms")
            }
            acceptSource?.suspend()
            queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in
                if !stopping { acceptSource?.resume() }
            }
        default:
            log.error("\(SystemError("accept", code: code))")
        }
    }

    private var sessionSettings: XMPPSettings {
        let server = configuration.server
        return XMPPSettings(domain: server.domain, users: server.users, maxStanzaBytes: server.maxStanzaBytes,
                            maxDepth: server.maxDepth, maxAuthAttempts: server.maxAuthAttempts)
    }

    private var connectionLimits: ConnectionLimits {
        let server = configuration.server
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
        let refused = refusedSinceSummary
        let overCapacity = overCapacitySinceSummary
        refusedSinceSummary = 0
        overCapacitySinceSummary = 0
        let open = connections.count
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
            log.info("shutting down: closing \(connections.count) stream(s)")
            acceptSource?.cancel()
            summaryTimer?.cancel()
            for source in signalSources { source.cancel() }
            purgeTask?.cancel()
            admin?.stop()
            for connection in connections.values { connection.shutDown() }
            waitForConnections(until: .now() + grace, completion: completion)
        }
    }

    private func waitForConnections(until deadline: DispatchTime, completion: @escaping @Sendable () -> Void) {
        if connections.isEmpty || DispatchTime.now() >= deadline {
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

    /// SIGTERM and SIGINT stop the server and exit 0; SIGHUP reloads.
    func handleSignals(onStopped: @escaping @Sendable () -> Void) {
        queue.sync {
            for signalNumber in [SIGTERM, SIGINT, SIGHUP] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
                source.setEventHandler { [self] in
                    if signalNumber == SIGHUP {
                        log.info("SIGHUP: reloading")
                        reload()
                    } else {
                        stop(completion: onStopped)
                    }
                }
                source.resume()
                signalSources.append(source)
            }
        }
    }

    /// Open client connections now (for tests and summaries).
    var openConnections: Int {
        queue.sync { connections.count }
    }
}
