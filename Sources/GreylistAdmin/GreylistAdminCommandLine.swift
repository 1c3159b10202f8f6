#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `admin` command line any host can offer (the `greylist-admin` tool and the demo's `admin`
/// subcommand share it): `list`, `stats`, `export`, `ban`, `unban`, `trusted`, `distrust`,
/// `soft-trust`, `soft-untrust`, with their options, parsed into a request.
public enum GreylistAdminCommandLine {
    /// A parsed command line.
    public struct Invocation: Equatable, Sendable {
        /// The request to send.
        public var request: GreylistAdminRequest
        /// `--socket PATH`, or `admin.sock` in `--state DIR`, when given.
        public var socketPath: String?
        /// `--json`: print the raw response.
        public var json: Bool

        /// Creates an invocation.
        ///
        /// - Parameters:
        ///   - request: The request to send.
        ///   - socketPath: The socket, if given.
        ///   - json: Whether to print the raw response.
        public init(request: GreylistAdminRequest, socketPath: String? = nil, json: Bool = false) {
            self.request = request
            self.socketPath = socketPath
            self.json = json
        }
    }

    /// Usage lines, one per verb (`PROGRAM` stands for the command that takes them).
    public static let usage = """
    list [--limit N | --all] [--network CIDR] [--json] [--socket PATH | --state DIR]
    stats|export [--json] [--socket PATH | --state DIR]
    ban CIDR [--for DURATION] [--reason TEXT] [--force] [--json] [--socket PATH | --state DIR]
    unban CIDR [--json] [--socket PATH | --state DIR]
    trusted [--network CIDR] [--json] [--socket PATH | --state DIR]
    distrust CIDR [--json] [--socket PATH | --state DIR]
    soft-trust|soft-untrust CIDR [--json] [--socket PATH | --state DIR]
    """

    /// What to print for `response`: the operator's text, or with `--json` the raw response as
    /// JSON a terminal cannot be made to act on.
    ///
    /// - Parameters:
    ///   - response: The server's response.
    ///   - invocation: The command line it answers.
    /// - Returns: The text to print.
    public static func output(_ response: GreylistAdminResponse, for invocation: Invocation) -> String {
        guard invocation.json else { return GreylistAdminClient.format(response, command: invocation.request.command) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = (try? encoder.encode(response)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"ok":false}"#
        return GreylistAdminClient.terminalSafe(json: json)
    }

    /// The verbs.
    public static let commands = ["list", "trusted", "stats", "export", "ban", "unban", "distrust", "soft-trust", "soft-untrust"]

    /// Parses the arguments after `admin` (or after the tool's name).
    ///
    /// - Parameter arguments: The verb, then its arguments.
    /// - Returns: The request, the socket path if given, and whether to print JSON.
    /// - Throws: ``GreylistAdminError`` with code ``GreylistAdminError/Code/usage``, naming the argument.
    public static func parse(_ arguments: [String]) throws(GreylistAdminError) -> Invocation {
        func problem(_ text: String) -> GreylistAdminError { GreylistAdminError(code: .usage, description: text) }
        var rest = arguments[...]
        guard let command = rest.popFirst(), commands.contains(command) else {
            throw problem("admin needs one of: list, trusted, stats, export, ban CIDR, unban CIDR, distrust CIDR, soft-trust CIDR, soft-untrust CIDR")
        }
        var request = GreylistAdminRequest(command: command)
        if command == "list" { request.limit = 1_000 }
        if ["ban", "unban", "distrust", "soft-trust", "soft-untrust"].contains(command) {
            guard let network = rest.popFirst(), !network.hasPrefix("--") else {
                throw problem("admin \(command) needs a network, such as 203.0.113.0/24")
            }
            request.network = network
        }
        var invocation = Invocation(request: request, socketPath: nil, json: false)
        func value(_ option: String) throws(GreylistAdminError) -> String {
            guard let value = rest.popFirst() else { throw problem("\(option) needs a value") }
            return value
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--json": invocation.json = true
            case "--socket": invocation.socketPath = try value(argument)
            case "--state": invocation.socketPath = GreylistAdminServer.socketPath(inStateDirectory: try value(argument))
            case "--for" where command == "ban": invocation.request.duration = try value(argument)
            case "--reason" where command == "ban": invocation.request.reason = try value(argument)
            case "--force" where command == "ban": invocation.request.force = true
            case "--limit" where command == "list":
                let text = try value(argument)
                guard let number = Int(text), number > 0 else { throw problem("--limit: \"\(text)\" is not a positive number") }
                invocation.request.limit = number
            case "--all" where command == "list": invocation.request.limit = nil
            case "--network" where command == "list" || command == "trusted": invocation.request.network = try value(argument)
            default: throw problem("unknown argument \"\(argument)\" for admin \(command) (see --help)")
            }
        }
        return invocation
    }
}
