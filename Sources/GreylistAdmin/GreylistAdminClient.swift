import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Greylist
import GreylistSystem

/// Talks to a ``GreylistAdminServer``: sends one request, returns the response, and formats it
/// as an operator reads it.
public enum GreylistAdminClient {
    /// Sends `request` to the socket at `path` and returns the decoded response, within
    /// ``replyTimeoutSeconds`` for each read (a server that stops answering cannot hang the
    /// operator's command; a busy one gets time to answer).
    ///
    /// The socket must be served by this user or root: a socket another user bound is refused.
    ///
    /// - Parameters:
    ///   - request: The request.
    ///   - path: The socket's path; a relative one is taken from the working directory.
    /// - Returns: The server's response.
    /// - Throws: ``GreylistAdminError`` naming the path and what failed.
    public static func send(_ request: GreylistAdminRequest, to path: String) throws(GreylistAdminError) -> GreylistAdminResponse {
        do {
            return try exchange(request, path: path)
        } catch let error as SystemError {
            throw GreylistAdminError(code: .socket, description: error.description)
        } catch {
            throw GreylistAdminError(code: .reply, description: "\(path): the reply is not an admin response (\(error))")
        }
    }

    private static func exchange(_ request: GreylistAdminRequest, path: String) throws -> GreylistAdminResponse {
        let descriptor = try Syscalls.socket(family: Syscalls.unixFamily, type: Syscalls.streamSocket)
        defer { Syscalls.close(descriptor) }
        // A server that stops answering must not hang the operator's command.
        Syscalls.setTimeouts(descriptor, seconds: replyTimeoutSeconds)
        var address = try GreylistAdminServer.address(path)
        try withUnsafeBytes(of: &address) { (bytes) throws(SystemError) in
            try Syscalls.connect(descriptor, bytes.baseAddress!, length: bytes.count,
                                 subject: path.hasPrefix("/") ? "\(path) (is the server running with this admin socket?)"
                                    : "\(absolute(path)) (a relative path, from the working directory: run admin where the server runs, or pass its --config or --socket)")
        }
        // Whoever bound the socket answers: it must be this user (or root), not an impostor.
        guard let server = Syscalls.peerUser(descriptor), GreylistAdminServer.isAllowed(peer: server, server: Syscalls.effectiveUser) || server == 0 else {
            throw SystemError("connect", "\(path): served by uid \(Syscalls.peerUser(descriptor).map(String.init) ?? "unknown"), not by this user or root; refusing to talk to it", code: EPERM)
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
            guard response.count <= maximumReplyBytes else {
                throw SystemError("read", "\(path): reply larger than \(maximumReplyBytes) bytes, refused", code: EMSGSIZE)
            }
        }
        return try JSONDecoder().decode(GreylistAdminResponse.self, from: response)
    }

    /// How long the client waits for the server's next bytes.
    public static let replyTimeoutSeconds = 30

    /// The largest reply the client accepts (a listing of about a million bans).
    public static let maximumReplyBytes = 256 << 20

    /// `path` made absolute against the working directory.
    package static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    /// JSON whose strings carry no character a terminal would act on: C1 controls, line
    /// separators and bidirectional overrides become `\uXXXX` escapes (still valid JSON; the
    /// encoder already escapes C0 controls).
    ///
    /// - Parameter json: JSON text.
    /// - Returns: The same JSON, safe to print on a terminal.
    public static func terminalSafe(json: String) -> String {
        var result = ""
        for scalar in json.unicodeScalars {
            switch scalar.value {
            case 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// The response as an operator reads it: one line per ban, key or counter, every piece of
    /// network-supplied text escaped.
    ///
    /// - Parameters:
    ///   - response: The response.
    ///   - command: The request's command (the wording depends on it).
    /// - Returns: Text to print.
    public static func format(_ response: GreylistAdminResponse, command: String) -> String {
        let safe: (String) -> String = { OperatorText.escaped($0) }
        if let error = response.error { return "error: \(safe(error))" }
        if let statistics = response.statistics {
            // The key column as wide as the longest key (proxyHeadersAccepted, unknownNameBans, …).
            let width = max(statistics.keys.map { safe($0).count }.max() ?? 0, "cluster".count)
            let rows = statistics.keys.sorted().map { "\(safe($0).padding(toLength: width, withPad: " ", startingAt: 0)) \(statistics[$0]!)" }
            return (rows + (response.cluster.map { ["cluster".padding(toLength: width, withPad: " ", startingAt: 0) + " \(safe($0))"] } ?? [])).joined(separator: "\n")
        }
        if command == "soft-trust" || command == "soft-untrust" {
            let verb = command == "soft-trust" ? "added" : "removed"
            let head = response.changed == true ? "soft trust \(verb)" : command == "soft-trust" ? "already in the soft-trust list" : "not among the networks added with soft-trust"
            let soft = (response.softTrust ?? []).map { safe($0).padding(toLength: 24, withPad: " ", startingAt: 0) + "  soft trust (configuration)" }
                + (response.softTrustAdded ?? []).map { safe($0).padding(toLength: 24, withPad: " ", startingAt: 0) + "  soft trust (admin)" }
            return ([head] + soft).joined(separator: "\n")
        }
        if let trusted = response.trusted {
            let soft = (response.softTrust ?? []).map { safe($0).padding(toLength: 24, withPad: " ", startingAt: 0) + "  soft trust (configuration)" }
                + (response.softTrustAdded ?? []).map { safe($0).padding(toLength: 24, withPad: " ", startingAt: 0) + "  soft trust (admin)" }
            if trusted.isEmpty && soft.isEmpty { return command == "distrust" ? "no trusted key inside that network" : "no trusted keys" }
            let rows = trusted.map { safe($0.network).padding(toLength: 24, withPad: " ", startingAt: 0) + "  trusted until " + safe($0.until) }
            return (command == "distrust" ? "took trust from \(trusted.count) key(s):\n" : "") + (soft + rows).joined(separator: "\n")
        }
        let bans = response.bans ?? []
        if bans.isEmpty && (response.histories ?? []).isEmpty {
            return command == "unban" ? "no ban inside that network" : "no bans"
        }
        var header = command == "unban" ? "lifted \(bans.count) ban(s):\n" : command == "ban" ? "banned:\n" : ""
        if command == "list", let total = response.total, total > bans.count {
            header = "\(total) bans match; the \(bans.count) expiring soonest (--limit N or --all for more):\n"
        }
        let histories = (response.histories ?? []).map { "history \(safe($0.network))  \($0.banCount) ban(s), last ended \(safe($0.lastBanEnd))" }
        let rows = bans.map { ban in
            [safe(ban.network).padding(toLength: 24, withPad: " ", startingAt: 0), safe(ban.expiresAt),
             "#\(ban.banCount)", "refused \(ban.refusedCount)",
             safe(ban.reason) + (ban.soft == true ? " (soft)" : "") + (ban.user.map { " user=\(safe($0))" } ?? "")]
                .joined(separator: "  ")
        }
        return header + (rows + histories).joined(separator: "\n")
    }
}
