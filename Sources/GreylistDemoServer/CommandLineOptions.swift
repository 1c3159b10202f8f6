import GreylistAdmin
/// What the command line asked for.
enum CommandLineOptions: Equatable {
    /// Run the server.
    case serve(configurationPath: String?, host: String?, port: Int?, verbose: Bool)
    /// Send an admin request to a running server (its socket from `--socket`, or from the
    /// configuration file `--config` names, or the default state directory's).
    case admin(GreylistAdminCommandLine.Invocation, configurationPath: String?)
    /// Ban addresses as fast as possible in a state directory, printing each once stored.
    case banFlood(stateDirectory: String, count: Int, synchronous: Bool)
    /// Print the help text.
    case help

    /// Parses the arguments after the program name.
    ///
    /// - Throws: ``CommandLineError`` naming the bad argument.
    static func parse(_ arguments: [String]) throws(CommandLineError) -> CommandLineOptions {
        var rest = arguments[...]
        if rest.first == "admin" {
            rest = rest.dropFirst()
            return try parseAdmin(&rest)
        }
        if rest.first == "ban-flood" {
            rest = rest.dropFirst()
            return try parseBanFlood(&rest)
        }
        var configurationPath: String?
        var host: String?
        var port: Int?
        var verbose = false
        while let argument = rest.popFirst() {
            switch argument {
            case "--help", "-h":
                return .help
            case "--config":
                configurationPath = try value(for: argument, from: &rest)
            case "--host":
                host = try value(for: argument, from: &rest)
            case "--port":
                let text = try value(for: argument, from: &rest)
                guard let number = Int(text), (0...65_535).contains(number) else {
                    throw CommandLineError("--port: \"\(text)\" is not a port number (0...65535)")
                }
                port = number
            case "--verbose":
                verbose = true
            default:
                throw CommandLineError("unknown argument \"\(argument)\" (see --help)")
            }
        }
        return .serve(configurationPath: configurationPath, host: host, port: port, verbose: verbose)
    }

    private static func parseAdmin(_ rest: inout ArraySlice<String>) throws(CommandLineError) -> CommandLineOptions {
        // `--config FILE` is the demo's: the library's command line takes the rest.
        var arguments: [String] = []
        var configurationPath: String?
        while let argument = rest.popFirst() {
            if argument == "--config" {
                configurationPath = try value(for: argument, from: &rest)
            } else {
                arguments.append(argument)
            }
        }
        do {
            return .admin(try GreylistAdminCommandLine.parse(arguments), configurationPath: configurationPath)
        } catch {
            throw CommandLineError(error.description)
        }
    }

    private static func parseBanFlood(_ rest: inout ArraySlice<String>) throws(CommandLineError) -> CommandLineOptions {
        var directory: String?
        var count = 1_000_000
        var synchronous = true
        while let argument = rest.popFirst() {
            switch argument {
            case "--state": directory = try value(for: argument, from: &rest)
            case "--count":
                let text = try value(for: argument, from: &rest)
                guard let number = Int(text), number > 0 else { throw CommandLineError("--count: \"\(text)\" is not a positive number") }
                count = number
            case "--no-fsync": synchronous = false
            default: throw CommandLineError("unknown argument \"\(argument)\" for ban-flood (see --help)")
            }
        }
        guard let directory else { throw CommandLineError("ban-flood needs --state DIR") }
        return .banFlood(stateDirectory: directory, count: count, synchronous: synchronous)
    }

    private static func value(for option: String, from rest: inout ArraySlice<String>) throws(CommandLineError) -> String {
        guard let value = rest.popFirst() else { throw CommandLineError("\(option) needs a value") }
        return value
    }

    static let helpText = """
    GreylistDemoServer: an XMPP server (RFC 6120 client streams, SASL PLAIN, resource binding)
    that refuses banned sources right after accept(), before reading or writing a byte.

    USAGE
      GreylistDemoServer [--config FILE] [--host HOST] [--port PORT] [--verbose]
      GreylistDemoServer admin list [--limit N | --all] [--network CIDR] [--json] [--socket PATH | --config FILE]
      GreylistDemoServer admin stats|export [--json] [--socket PATH | --config FILE]
      GreylistDemoServer admin ban CIDR [--for DURATION] [--reason TEXT] [--force] [--json] [--socket PATH | --config FILE]
      GreylistDemoServer admin unban CIDR [--json] [--socket PATH | --config FILE]
      GreylistDemoServer admin trusted [--network CIDR] [--json] [--socket PATH | --config FILE]
      GreylistDemoServer admin distrust CIDR [--json] [--socket PATH | --config FILE]
      GreylistDemoServer admin soft-trust|soft-untrust CIDR [--json] [--socket PATH | --config FILE]
      GreylistDemoServer ban-flood --state DIR [--count N] [--no-fsync]

    SERVER OPTIONS
      --config FILE   JSON file with "server" and "greylist" objects (see config.example.json).
                      Without it: 127.0.0.1:5222, domain localhost, account demo / demo-password,
                      and the recommended rules: "botnet" (a failed login as ^bad_user_[0-9]{5,}$
                      bans for 4h), "unknown-accounts" (2 unknown names in 1h ban for 4h) and
                      "guessing" (10 wrong passwords in 10m ban for 1h), with trust, knocking,
                      spraying and ranges at the library's defaults, and the state directory
                      ./greylist-state, relative to the working directory (bans survive
                      restarts there; the admin socket is greylist-state/admin.sock).
      --host HOST     Listen address: an IP literal, localhost, or :: for IPv4 and IPv6.
      --port PORT     Listen port (0 picks a free one).
      --verbose       Debug log lines.

    SIGNALS
      SIGTERM, SIGINT  stop accepting, end streams with system-shutdown, exit 0.
      SIGHUP           reload --config: rules, allowlist, limits and accounts change; bans stay.
                       An invalid file is rejected and the running configuration kept.

    ADMIN
      Talks to the running server over its Unix socket (server.adminSocket, default
      admin.sock in the state directory, mode 0600; only the server's user or root is served).
      Without --socket or --config, the socket is ./greylist-state/admin.sock: run admin from the
      server's working directory, or pass the server's --config (its paths are read the same
      way) or --socket. The server logs both paths, absolute, at start.
      ban takes a CIDR and --for 90s|10m|4h|7d|"2 hours" (default 1h);
      a network wider than server.adminWidestBan (/16, and /32 for IPv6) needs --force.
      unban lifts every ban inside the CIDR. trusted lists the keys trusted after a login (their
      rule bans are soft) and the soft-trust networks; distrust takes trust from every key inside the CIDR, on every node.
      soft-trust adds a network whose bans are always soft (an office or a carrier's NAT; stored,
      this node only), soft-untrust takes out one added that way. list shows the bans in force, soonest expiry first:
      at most --limit (default 1000; --all for every one), only those inside or over --network
      CIDR when given, and how many matched in all. export prints bans and escalation histories
      (the persistent state). --json prints the raw response.

    BAN-FLOOD
      Checks a disk's durability: bans 10.0.0.0/8 addresses one after another in the state
      directory DIR (not a running server's) and prints "stored CIDR" for each once it is on disk.
      Kill it at any moment; every CIDR it printed is in DIR when it starts again.
    """
}

/// A command line that cannot be used.
struct CommandLineError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
