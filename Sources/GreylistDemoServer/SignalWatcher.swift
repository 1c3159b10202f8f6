import Foundation
import Glibc

/// Receives SIGTERM, SIGINT and SIGHUP with `sigwait` on the main thread.
///
/// ``block()`` runs first thing in `main`, before any thread exists: threads created later
/// inherit the blocked mask, so a signal that arrives during start-up stays pending until
/// ``run(_:)`` collects it, instead of killing the process or being lost before a handler is
/// armed. `run` replaces `dispatchMain()`, which would park the main thread in `sigsuspend`
/// with every signal unblocked. Threads whose creator resets the mask (Foundation's `Thread`)
/// call ``block()`` themselves.
enum SignalWatcher {
    static let watched = [SIGTERM, SIGINT, SIGHUP]

    private static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in watched { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the watched signals in the calling thread and every thread it creates later.
    static func block() {
        var mask = set
        pthread_sigmask(SIG_BLOCK, &mask, nil)
    }

    /// Hands each watched signal to `handler`, in arrival order, on the calling thread; never returns.
    static func run(_ handler: (Int32) -> Void) -> Never {
        var mask = set
        while true {
            var received: Int32 = 0
            if sigwait(&mask, &received) == 0 { handler(received) }
        }
    }
}
