import Foundation
import Glibc

/// The command line: `--port N` (0 picks a free one, the default 7777), `--state DIR` (default
/// `line-login-state`, relative to the working directory; "" keeps bans in memory only).
struct LineLoginOptions {
    var port = 7_777
    var state = "line-login-state"
    /// The example's one account.
    let accounts = ["alice": "correct horse battery staple"]

    /// A bad argument, named.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    init(_ arguments: some Sequence<String>) throws(Problem) {
        var rest = Array(arguments)[...]
        while let argument = rest.popFirst() {
            guard let value = rest.popFirst() else { throw Problem(description: "\(argument) needs a value") }
            switch argument {
            case "--port":
                guard let port = Int(value), (0...65_535).contains(port) else { throw Problem(description: "--port \(value): not a port") }
                self.port = port
            case "--state": state = value
            default: throw Problem(description: "unknown argument \(argument) (use --port N, --state DIR)")
            }
        }
    }
}

/// SIGINT and SIGTERM, blocked in every thread and collected with `sigwait` on the main thread.
enum LineLoginSignals {
    static var set: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        return signals
    }

    static func block() {
        var signals = set
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    static func wait() {
        var signals = set
        var received: Int32 = 0
        sigwait(&signals, &received)
    }
}
