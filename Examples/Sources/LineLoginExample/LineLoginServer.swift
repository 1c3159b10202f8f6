import Dispatch
import Foundation
import Greylist
import GreylistNIO
import Logging
import NIOCore
import NIOPosix

/// A line-protocol login server on SwiftNIO behind Greylist: the smallest complete integration.
///
/// A client sends `LOGIN <user> <password>` lines; the server answers `OK` or `DENIED`. A banned
/// source's socket is closed on the accept thread before it is a channel; bans are stored in
/// `--state DIR` and survive restarts; SIGINT or SIGTERM stops it cleanly.
@main
struct LineLoginServer {
    static func main() throws {
        LineLoginSignals.block()  // before any thread starts, so that sigwait below collects them
        let options = try LineLoginOptions(CommandLine.arguments.dropFirst())
        let logger = Logger(label: "line-login")
        let greylist = try Greylist(
            configuration: GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(), stateDirectory: options.state),
            events: GreylistEventLogger(logger: logger).sink)
        let purging = Task.detached { await greylist.run() }  // purges what expired, until cancelled
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let acceptor = try GreylistAcceptor(host: "127.0.0.1", port: options.port, greylist: greylist, group: group, logger: logger) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(LineLoginHandler(greylist: greylist, accounts: options.accounts))
            }
        }
        logger.notice("listening on 127.0.0.1:\(acceptor.port)")
        LineLoginSignals.wait()
        acceptor.syncClose()  // no new connection, then the loops, then every ban on disk
        try group.syncShutdownGracefully()
        purging.cancel()
        let stored = DispatchSemaphore(value: 0)
        Task.detached { await greylist.closeStore(); stored.signal() }
        stored.wait()
        logger.notice("stopped")
    }
}
