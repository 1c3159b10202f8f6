import Greylist

/// The example's command line: `GreylistNIOExample [--host H] [--port P] [--tls-port P]
/// [--domain D] [--user NAME:PASSWORD]… [--trusted-proxy CIDR]… [--certificate PEM --key PEM]
/// [--ban CIDR]… [--nio-acceptor] [--baseline]`. Ports 0 pick free ones (the tests use that); the chosen ones are
/// printed. `--ban` bans a network for a day at start (benchmarks); `--baseline` replaces the
/// greylist's accept handler with one that closes every connection (the benchmarks' floor: a
/// bare NIO accept-and-close server, on NIO's accept path). `--nio-acceptor` refuses with
/// ``GreylistAcceptHandler`` in a `ServerBootstrap` instead of ``GreylistAcceptor``'s thread.
struct ExampleOptions {
    var host = "127.0.0.1"
    var port = 5222
    var tlsPort = 5223
    var domain = "localhost"
    var users: [String: String] = [:]
    var trustedProxies: [IPNetwork] = []
    var certificatePath: String?
    var keyPath: String?
    var bans: [IPNetwork] = []
    var baseline = false
    var nioAcceptor = false

    /// Why the command line cannot be used, naming the argument.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    init(_ arguments: [String]) throws(Problem) {
        var index = 0
        func value(_ flag: String) throws(Problem) -> String {
            index += 1
            guard index < arguments.count else { throw Problem(description: "\(flag) needs a value") }
            return arguments[index]
        }
        func portNumber(_ flag: String) throws(Problem) -> Int {
            let text = try value(flag)
            guard let port = Int(text), (0...65_535).contains(port) else { throw Problem(description: "\(flag) \"\(text)\": not a port (0 to 65535)") }
            return port
        }
        while index < arguments.count {
            let flag = arguments[index]
            switch flag {
            case "--host": host = try value(flag)
            case "--port": port = try portNumber(flag)
            case "--tls-port": tlsPort = try portNumber(flag)
            case "--domain": domain = try value(flag)
            case "--user":
                let text = try value(flag)
                guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
                    throw Problem(description: "--user \"\(OperatorText.escaped(text))\": expected NAME:PASSWORD")
                }
                users[String(text[..<colon])] = String(text[text.index(after: colon)...])
            case "--trusted-proxy":
                let text = try value(flag)
                do {
                    trustedProxies.append(try IPNetwork(text))
                } catch {
                    throw Problem(description: "--trusted-proxy: \(error)")
                }
            case "--certificate": certificatePath = try value(flag)
            case "--key": keyPath = try value(flag)
            case "--ban":
                let text = try value(flag)
                do {
                    bans.append(try IPNetwork(text))
                } catch {
                    throw Problem(description: "--ban: \(error)")
                }
            case "--baseline": baseline = true
            case "--nio-acceptor": nioAcceptor = true
            default: throw Problem(description: "unknown argument \"\(OperatorText.escaped(flag))\"")
            }
            index += 1
        }
        if users.isEmpty { users = ["demo": "demo-password"] }
        guard (certificatePath == nil) == (keyPath == nil) else { throw Problem(description: "--certificate and --key go together") }
    }
}
