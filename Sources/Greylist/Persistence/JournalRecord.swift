#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One line of a journal or snapshot file: `<crc32 hex> <json>\n`, the CRC over the JSON bytes.
///
/// Format version 3 (versions 1 and 2 are read as they are: version 1 is version 2 without
/// trust, version 2 is version 3 without marks). `op` is `ban` (a ban placed; its `banCount` and
/// `expiresAt` are also the key's escalation history), `remove` (a ban dropped, history kept:
/// eviction), `unban` (every ban and history inside `network` forgotten), `history` (snapshot
/// only: a key's history after its ban ended), `trust` (the key is trusted until `expiresAt`),
/// `untrust` (its trust is taken away), `account` (the account `user` is trusted on the key until
/// `expiresAt`), `blocked` (the guesses of `user` from the key are used up until `expiresAt`),
/// `name` (the unknown name `user` is a bot's until `expiresAt`; `network` empty), `soft` or
/// `unsoft` (an operator added `network` to the soft-trust list, or took it out). Times are
/// milliseconds since 1970.
struct JournalRecord: Codable, Equatable {
    var op: String
    var network: String
    var rule: String?
    var manual: String?
    var user: String?
    var bannedAt: Int64?
    var expiresAt: Int64?
    var banCount: Int?
    var lastBanEnd: Int64?

    init(op: String, network: String) {
        self.op = op
        self.network = network
    }

    init(_ change: GreylistChange) {
        switch change {
        case .banned(let entry):
            op = "ban"
            network = entry.network.description
            switch entry.reason {
            case .rule(let name): rule = name
            case .manual(let reason): manual = reason
            }
            user = entry.user
            bannedAt = entry.bannedAtMilliseconds
            expiresAt = entry.expiresAtMilliseconds
            banCount = entry.banCount
        case .removed(let network):
            op = "remove"
            self.network = network.description
        case .unbanned(let network):
            op = "unban"
            self.network = network.description
        case .trusted(let network, let until):
            op = "trust"
            self.network = network.description
            expiresAt = WallClock.milliseconds(until)
        case .distrusted(let network):
            op = "untrust"
            self.network = network.description
        case .accountTrusted(let mark), .loginsBlocked(let mark):
            if case .accountTrusted = change { op = "account" } else { op = "blocked" }
            network = mark.network.description
            user = mark.account
            expiresAt = WallClock.milliseconds(mark.until)
        case .nameMarked(let mark):
            op = "name"
            network = ""
            user = mark.name
            expiresAt = WallClock.milliseconds(mark.until)
        case .softTrustChanged(let network, let added):
            op = added ? "soft" : "unsoft"
            self.network = network.description
        }
    }

    init(_ trusted: TrustedKey) {
        self.init(.trusted(trusted.network, until: trusted.until))
    }

    init(_ history: BanHistory) {
        op = "history"
        network = history.network.description
        banCount = history.banCount
        lastBanEnd = WallClock.milliseconds(history.lastBanEnd)
    }

    /// The line to write: JSON with sorted keys, written by hand (no encoder per record).
    var line: [UInt8] {
        var json: [UInt8] = []
        json.reserveCapacity(160)
        json.append(UInt8(ascii: "{"))
        func key(_ name: StaticString) {
            if json.count > 1 { json.append(UInt8(ascii: ",")) }
            json.append(UInt8(ascii: "\""))
            json.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            json.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func number<Value: BinaryInteger>(_ name: StaticString, _ value: Value?) {
            guard let value else { return }
            key(name)
            json.append(contentsOf: String(value).utf8)
        }
        func text(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            Self.appendJSONString(value, to: &json)
        }
        number("banCount", banCount)
        number("bannedAt", bannedAt)
        number("expiresAt", expiresAt)
        number("lastBanEnd", lastBanEnd)
        text("manual", manual)
        text("network", network)
        text("op", op)
        text("rule", rule)
        text("user", user)
        json.append(UInt8(ascii: "}"))
        let crc = String(CRC32.checksum(json), radix: 16)
        return Array((String(repeating: "0", count: 8 - crc.count) + crc + " ").utf8) + json + [0x0A]
    }

    /// Appends `value` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func appendJSONString(_ value: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                let hex = String(byte, radix: 16)
                json.append(contentsOf: Array("\\u00".utf8) + Array((hex.count == 1 ? "0" + hex : hex).utf8))
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }

    /// Parses one line without its newline; `nil` when the CRC or the JSON is wrong.
    static func parse(_ line: ArraySlice<UInt8>) -> JournalRecord? {
        guard line.count > 9, line[line.startIndex + 8] == UInt8(ascii: " "),
              let crc = UInt32(String(decoding: line.prefix(8), as: UTF8.self), radix: 16) else { return nil }
        let json = line.dropFirst(9)
        guard CRC32.checksum(json) == crc else { return nil }
        // The hand-written reader takes every line this code writes; the decoder is the fallback
        // for other valid JSON (another writer's spacing or escapes).
        return JournalLineParser.parse(json) ?? (try? JSONDecoder().decode(JournalRecord.self, from: Data(json)))
    }

    /// Applies the record to state being rebuilt; `false` when the record makes no sense.
    func apply(to state: inout RecoveredState) -> Bool {
        if op == "name" {
            guard let user, let expiresAt else { return false }
            return state.marks.apply(.nameMarked(NameMark(name: user, until: WallClock.date(expiresAt))))
        }
        guard let key = IPNetwork.parse(Array(network.utf8)[...]) else { return false }
        switch op {
        case "ban":
            guard let bannedAt, let expiresAt, let banCount, (rule == nil) != (manual == nil) else { return false }
            let reason: BanEntry.Reason = rule.map { .rule($0) } ?? .manual(manual ?? "")
            state.placeBan(key, reason: reason, user: user, bannedAt: bannedAt, expiresAt: expiresAt, banCount: banCount)
        case "remove":
            state.removeBan(key)
        case "unban":
            state.unban(key)
        case "history":
            guard let banCount, let lastBanEnd else { return false }
            state.placeHistory(key, banCount: banCount, end: lastBanEnd)
        case "trust":
            guard let expiresAt else { return false }
            state.setTrust(key, until: expiresAt)
        case "untrust":
            state.setTrust(key, until: nil)
        case "account", "blocked":
            guard let user, let expiresAt else { return false }
            let mark = AccountMark(network: key, account: user, until: WallClock.date(expiresAt))
            return state.marks.apply(op == "account" ? .accountTrusted(mark) : .loginsBlocked(mark))
        case "soft", "unsoft":
            return state.marks.apply(.softTrustChanged(key, added: op == "soft"))
        default:
            return false
        }
        return true
    }
}
