import Greylist

extension RedisLink {
    /// Reads the whole shared state and hands it to the greylist: unbans first (those this node
    /// has not seen), then bans (unless an unban newer than the ban lifted it) and trusted keys.
    /// Foreign keys and values are counted and skipped.
    func converge(_ commands: RedisConnection) throws(RedisError) {
        var received = 0
        try scanValues("unban", commands) { network, record in
            guard case .unban(_, let at) = record else { return false }
            let seen = tombstones[network] ?? .min
            noteTombstone(network, at: at)
            if at > syncedUntil && at > seen {
                store.notices.deliver(.remoteChange(.unbanned(network)))
                received += 1
            }
            return true
        }
        try scanValues("ban", commands) { _, record in
            guard case .ban(let entry) = record else { return false }
            if !isLifted(entry) {
                store.notices.deliver(.remoteChange(.banned(entry)))
                received += 1
            }
            return true
        }
        try scanValues("trust", commands) { network, record in
            guard case .trust(_, let until) = record else { return false }
            store.notices.deliver(.remoteChange(.trusted(network, until: WallClock.date(until))))
            received += 1
            return true
        }
        for kind in ["account", "blocked"] {
            try scanValues(kind, commands) { _, record in
                switch record {
                case .accountTrust where kind == "account", .loginsBlocked where kind == "blocked":
                    guard let change = record.change else { return false }
                    store.notices.deliver(.remoteChange(change))
                    received += 1
                    return true
                default:
                    return false
                }
            }
        }
        store.shared.withLock { $0.status.received += received }
        reportForeign()
    }

    /// Every value of one kind, decoded; `body` returns false for a record of the wrong kind.
    /// Values are read with `GETRANGE` up to the longest valid one, so a huge value costs no
    /// more than that; a key of another type answers an error and is skipped.
    func scanValues(_ kind: String, _ commands: RedisConnection, _ body: (IPNetwork, SharedRecord) -> Bool) throws(RedisError) {
        try scan(kind, commands) { keys throws(RedisError) in
            let reads: [[RESPArgument]] = keys.map { ["GETRANGE", RESPArgument($0), "0", RESPArgument(Int64(SharedRecord.maximumLength))] }
            let replies = try commands.pipeline(reads)
            for (key, reply) in zip(keys, replies) {
                guard let network = network(fromKey: key, kind: kind) else {
                    foreign.note("key \(key)")
                    continue
                }
                switch reply {
                case .bulkString(let bytes?) where bytes.isEmpty:
                    continue  // Expired or deleted since the scan.
                case .bulkString(let bytes?):
                    if bytes.count > SharedRecord.maximumLength {
                        foreign.note("key \(key): a value over \(SharedRecord.maximumLength) bytes")
                    } else if let record = SharedRecord.decode(value: bytes, network: network, key: store.key), body(network, record) {
                        continue
                    } else {
                        foreign.note("key \(key): not a \(SharedRecord.version) \(kind) value")
                    }
                case .error(let message):
                    foreign.note("key \(key): \(message)")
                default:
                    foreign.note("key \(key): \(reply)")
                }
            }
        }
    }

    /// Walks the keys `<namespace>:<kind>:*` with `SCAN`, a batch at a time.
    func scan(_ kind: String, _ commands: RedisConnection, _ batch: ([String]) throws(RedisError) -> Void) throws(RedisError) {
        var cursor = "0"
        let pattern = settings.key(kind, "*")
        repeat {
            let reply = try commands.call(["SCAN", RESPArgument(cursor), "MATCH", RESPArgument(pattern), "COUNT", "1000"])
            guard case .array(let parts?) = reply, parts.count == 2, let next = parts[0].text,
                  case .array(let keys?) = parts[1] else {
                throw .server(command: "SCAN \(pattern)", message: reply.description)
            }
            cursor = next
            for case .skippedBulkString(let byteCount) in keys {
                foreign.note("a key name of \(byteCount) bytes")
            }
            let names = keys.compactMap(\.text)
            if !names.isEmpty { try batch(names) }
        } while cursor != "0" && !stopping
    }

    /// The network a key names, when the key is `<namespace>:<kind>:<network>` in canonical form
    /// (for `account` and `blocked`, followed by `#` and 32 hexadecimal digits).
    func network(fromKey key: String, kind: String) -> IPNetwork? {
        let prefix = settings.key(kind, "")
        let suffixLength = kind == "account" || kind == "blocked" ? 33 : 0
        guard key.hasPrefix(prefix), key.utf8.count <= prefix.utf8.count + 64 + suffixLength else { return nil }
        var text = String(key.dropFirst(prefix.count))
        if suffixLength > 0 {
            let suffix = text.utf8.suffix(suffixLength)
            guard suffix.count == suffixLength, suffix.first == UInt8(ascii: "#"),
                  suffix.dropFirst().allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
            else { return nil }
            text = String(decoding: text.utf8.dropLast(suffixLength), as: UTF8.self)
        }
        guard let network = try? IPNetwork(text), network.description == text else { return nil }
        return network
    }
}
