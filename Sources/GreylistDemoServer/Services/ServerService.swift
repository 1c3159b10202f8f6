/// A long-running part of the server: the accept loop, the admin server, the purge loop.
///
/// One shape for all of them (as swift-service-lifecycle's `Service`), so the composition root
/// starts them in order and stops them in reverse, and each stop returns only once its work has
/// ended: no thread, source or task outlives the server.
protocol ServerService: AnyObject, Sendable {
    /// What it is, for logs.
    var name: String { get }
    /// Starts the work and returns once it runs.
    ///
    /// - Throws: ``SystemError`` when it cannot start (a socket that cannot be bound).
    func start() throws
    /// Ends the work and returns once it has ended. Calling it again, or before ``start()``,
    /// returns at once.
    func stop() async
}
