import Foundation

/// The `admin` subcommand: sends one request to a running server and prints the answer.
enum AdminClient {
    /// Sends `request` to the socket at `path` and returns the decoded response.
    static func send(_ request: AdminRequest, to path: String) throws -> AdminResponse {
        let descriptor = try Syscalls.socket(family: AF_UNIX, type: Int32(SOCK_STREAM.rawValue))
        defer { Syscalls.close(descriptor) }
        // A server that stops answering must not hang the operator's command.
        Syscalls.setTimeouts(descriptor, seconds: 10)
        var address = try AdminServer.address(path)
        try withUnsafeBytes(of: &address) { (bytes) throws(SystemError) in
            try Syscalls.connect(descriptor, bytes.baseAddress!, length: bytes.count,
                                 subject: "\(path) (is the server running with this adminSocket?)")
        }
        var bytes = try JSONEncoder().encode(request)
        bytes.append(UInt8(ascii: "\n"))
        _ = bytes.withUnsafeBytes { Syscalls.write(descriptor, $0) }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Syscalls.read(descriptor, into: $0) }
            guard count > 0 else { break }
            response.append(contentsOf: chunk[..<count])
        }
        return try JSONDecoder().decode(AdminResponse.self, from: response)
    }

    /// The response as an operator reads it.
    static func format(_ response: AdminResponse, command: String) -> String {
        if let error = response.error { return "error: \(error)" }
        if let statistics = response.statistics {
            return statistics.keys.sorted().map { "\($0.padding(toLength: 18, withPad: " ", startingAt: 0)) \(statistics[$0]!)" }
                .joined(separator: "\n")
        }
        let bans = response.bans ?? []
        if bans.isEmpty && (response.histories ?? []).isEmpty {
            return command == "unban" ? "no ban inside that network" : "no bans"
        }
        let header = command == "unban" ? "lifted \(bans.count) ban(s):\n" : command == "ban" ? "banned:\n" : ""
        let histories = (response.histories ?? []).map { "history \($0.network)  \($0.banCount) ban(s), last ended \($0.lastBanEnd)" }
        let rows = bans.map { ban in
            [ban.network.padding(toLength: 24, withPad: " ", startingAt: 0), ban.expiresAt,
             "#\(ban.banCount)", "refused \(ban.refusedCount)",
             ban.reason + (ban.soft == true ? " (soft)" : "") + (ban.user.map { " user=\($0)" } ?? "")]
                .joined(separator: "  ")
        }
        return header + (rows + histories).joined(separator: "\n")
    }
}
