import Greylist

extension RedisLink {
    /// Sends one batch of queued changes, failures and whole-state records; returns whether
    /// there was anything to send. Queued changes leave the queue only once Redis answered.
    func flush(_ commands: RedisConnection) throws(RedisError) -> Bool {
        let (batch, failures, chunk, chunkLength, generation) = store.shared.withLock { shared in
            let batch = shared.queue.peek(Self.batchSize)
            let failures = shared.queue.takeFailures()
            var chunk: ArraySlice<SharedRecord> = []
            // A closing store sends its queued changes, not the rest of a whole-state hand-over
            // (what Redis lacks is added again by whichever node connects next).
            if batch.count < Self.batchSize, shared.stateCursor < shared.state.count, !shared.stopping {
                chunk = shared.state[shared.stateCursor..<min(shared.stateCursor + Self.batchSize, shared.state.count)]
            }
            let touched = shared.queue.touchedSinceState
            let fresh = touched.isEmpty ? Array(chunk) : chunk.filter { !touched.contains(OutgoingQueue.slot(of: $0)) }
            return (batch, failures, fresh, chunk.count, shared.stateGeneration)
        }
        guard !batch.isEmpty || !failures.isEmpty || chunkLength > 0 else { return false }
        let now = store.clock.nowMilliseconds
        var pipeline: [[RESPArgument]] = []
        var published = 0
        for (_, entry) in batch {
            let commands = self.commands(for: entry.record, now: now)
            published += commands.isEmpty ? 0 : 1
            pipeline += commands
        }
        for failure in failures {
            pipeline.append(publish(failure))
            published += 1
        }
        if !pipeline.isEmpty {
            try check(commands.pipeline(pipeline), for: pipeline)
        }
        store.shared.withLock { shared in
            shared.queue.acknowledge(batch)
            shared.status.published += published
        }
        for (_, entry) in batch {
            guard case .unban(let network, let at) = entry.record else { continue }
            // This node's own unban is a tombstone too: a whole-state hand-over must not store
            // the lifted ban again.
            noteTombstone(network, at: at)
            if network.prefixLength < (network.address.isIPv4 ? 32 : 128) {
                try sweepBans(inside: network, commands)
            }
        }
        if chunkLength > 0 {
            try addMissing(chunk, now: now, commands)
            store.shared.withLock { shared in
                guard shared.stateGeneration == generation else { return }
                shared.stateCursor += chunkLength
                if shared.stateCursor >= shared.state.count {
                    shared.state = []
                    shared.stateCursor = 0
                    shared.queue.endState()
                }
            }
        }
        return true
    }

    /// The commands that store and announce one change; none for one already over.
    func commands(for record: SharedRecord, now: Int64) -> [[RESPArgument]] {
        let network = record.network.description
        switch record {
        case .ban(let entry):
            let until = expiry(of: entry)
            // A ban an unban lifted since (another node's, read at connection) is not stored again.
            guard until > now, !isLifted(entry) else { return [] }
            return [["SET", RESPArgument(recordKey(record)), RESPArgument(bytes: record.value(key: store.key)), "PXAT", RESPArgument(until)],
                    publish(record)]
        case .unban:
            return [["DEL", RESPArgument(settings.key("ban", network))],
                    ["SET", RESPArgument(settings.key("unban", network)), RESPArgument(bytes: record.value(key: store.key)), "PXAT",
                     RESPArgument(now.addingClampedValue(Self.milliseconds(settings.unbanMemory)))],
                    publish(record)]
        case .distrust:
            return [["DEL", RESPArgument(recordKey(record))], publish(record)]
        case .failure:
            return [publish(record)]
        case .trust(_, let until), .accountTrust(_, _, let until), .loginsBlocked(_, _, let until):
            guard until > now else { return [] }
            return [["SET", RESPArgument(recordKey(record)), RESPArgument(bytes: record.value(key: store.key)), "PXAT", RESPArgument(until)],
                    publish(record)]
        }
    }

    /// The Redis key a record is stored under: `<namespace>:<kind>:<network>`, and for an
    /// account's record `<namespace>:<kind>:<network>#<32 hex digits of the account's SHA-256>`
    /// (the account itself is in the tagged value).
    func recordKey(_ record: SharedRecord) -> String {
        let network = record.network.description
        switch record {
        case .ban: return settings.key("ban", network)
        case .unban: return settings.key("unban", network)
        case .trust, .distrust: return settings.key("trust", network)
        case .failure: return settings.key("failure", network)
        case .accountTrust(_, let account, _): return settings.key("account", network + "#" + Self.accountDigest(account))
        case .loginsBlocked(_, let account, _): return settings.key("blocked", network + "#" + Self.accountDigest(account))
        }
    }

    /// 32 hexadecimal digits of an account's SHA-256: a key name of bounded length for any account.
    static func accountDigest(_ account: String) -> String {
        SHA256.digest(account.utf8).prefix(16).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// When a ban's key ends: a rule ban's outlives it by the history retention.
    func expiry(of entry: BanEntry) -> Int64 {
        guard case .rule = entry.reason else { return entry.expiresAtMilliseconds }
        return entry.expiresAtMilliseconds.addingClampedValue(Self.milliseconds(settings.historyRetention))
    }

    func publish(_ record: SharedRecord) -> [RESPArgument] {
        ["PUBLISH", RESPArgument(settings.channel), RESPArgument(bytes: record.message(from: store.nodeID, key: store.key))]
    }

    /// Fails the link on replies that say "try later" (a replica, loading, out of memory);
    /// other refusals are reported and skipped.
    func check(_ replies: [RESPValue], for pipeline: [[RESPArgument]]) throws(RedisError) {
        for (index, reply) in replies.enumerated() {
            guard case .error(let message) = reply else { continue }
            let command = String(decoding: pipeline[index].first?.bytes ?? [], as: UTF8.self)
            if Self.retryableErrors.contains(where: { message.hasPrefix($0) }) {
                throw .server(command: command, message: message)
            }
            foreign.note("redis refused \(command): \(message)")
        }
    }

    /// Adds whole-state records Redis lacks (`SET NX`), announcing only those.
    func addMissing(_ records: [SharedRecord], now: Int64, _ commands: RedisConnection) throws(RedisError) {
        var candidates: [SharedRecord] = []
        var pipeline: [[RESPArgument]] = []
        for record in records {
            switch record {
            case .ban(let entry):
                let until = expiry(of: entry)
                guard until > now, !isLifted(entry) else { continue }
                pipeline.append(["SET", RESPArgument(recordKey(record)), RESPArgument(bytes: record.value(key: store.key)), "NX", "PXAT", RESPArgument(until)])
            case .trust(_, let until), .accountTrust(_, _, let until), .loginsBlocked(_, _, let until):
                guard until > now else { continue }
                pipeline.append(["SET", RESPArgument(recordKey(record)), RESPArgument(bytes: record.value(key: store.key)), "NX", "PXAT", RESPArgument(until)])
            default:
                continue
            }
            candidates.append(record)
        }
        guard !pipeline.isEmpty else { return }
        let replies = try commands.pipeline(pipeline)
        try check(replies, for: pipeline)
        let added = zip(candidates, replies).compactMap { record, reply -> SharedRecord? in
            if case .simpleString("OK") = reply { return record }
            return nil
        }
        guard !added.isEmpty else { return }
        try check(commands.pipeline(added.map(publish)), for: added.map(publish))
        store.shared.withLock { $0.status.published += added.count }
    }

    /// Deletes the shared bans inside an unbanned network wider than one key.
    func sweepBans(inside network: IPNetwork, _ commands: RedisConnection) throws(RedisError) {
        try scan("ban", commands) { keys throws(RedisError) in
            let deletions: [[RESPArgument]] = keys.compactMap { key in
                guard let banned = self.network(fromKey: key, kind: "ban"), network.contains(banned.address),
                      banned.prefixLength >= network.prefixLength else { return nil }
                return ["DEL", RESPArgument(key)]
            }
            if !deletions.isEmpty { try check(commands.pipeline(deletions), for: deletions) }
        }
    }
}

extension Int64 {
    /// Adds, saturating at the bounds.
    func addingClampedValue(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
