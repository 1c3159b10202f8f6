#!/usr/bin/env python3
"""Mutation check: applies each deliberate bug below to a scratch copy of the package, runs the
whole suite against it, and reports which bugs the suite caught (killed) and which it missed
(survived). Not run by CI (about a minute per mutant on 2 cores).

Usage: Tests/mutants.sh [NAME ...]     (all mutants when no name is given)
       Tests/mutants.sh --check       (only whether every mutant still applies to the code)
"""
import os, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRATCH = os.path.join(ROOT, ".build-mutants", "package")

# (name, file, original text, mutated text)
MUTANTS = [
    ("replayed-journals-not-compacted", "Sources/Greylist/Persistence/JournalStore.swift",
     "        owed = owed || journalBytes > max(compactionThreshold, 2 * snapshotBytes)\n", ""),
    # The admin library.
    ("admin-socket-any-user", "Sources/GreylistAdmin/GreylistAdminServer.swift",
     "        peer == server || peer == 0", "        true"),
    ("admin-unban-unstored", "Sources/GreylistAdmin/GreylistAdminServer.swift",
     "                    let lifted = await greylist.unban(network)", "                    let lifted = await greylist.list().filter { network.contains($0.network) }"),
    ("admin-extra-statistics-dropped", "Sources/GreylistAdmin/GreylistAdminServer.swift",
     "response.statistics = await greylist.statistics().dictionary.merging(options.extraStatistics()) { first, _ in first }",
     "response.statistics = await greylist.statistics().dictionary"),
    # Written from the code of each mechanism, three or more per mechanism with the older ones.
    ("revocation-off-by-one", "Sources/Greylist/Greylist+Judgment.swift",
     "        guard distinct >= policy.revokeAfterAccounts else { return false }",
     "        guard distinct > policy.revokeAfterAccounts else { return false }"),
    ("revocation-not-stored", "Sources/Greylist/Greylist+Judgment.swift",
     "        gate.distrust(key)\n        persist(.distrusted(key))\n", "        gate.distrust(key)\n"),
    ("admin-distrust-not-shared", "Sources/Greylist/Greylist+Operator.swift",
     "            persist(.distrusted(trusted.network))", "            persist(.distrusted(trusted.network), share: false)"),
    ("knocking-extends-manual-bans", "Sources/Greylist/Internal/AcceptGate.swift",
     "                if slot.isRuleBan, let extended = state.knocking.extendedExpiry(of: slot, now: now) {",
     "                if let extended = state.knocking.extendedExpiry(of: slot, now: now) {"),
    ("knocking-past-max-ban", "Sources/Greylist/Internal/AcceptGate.swift",
     "        let wanted = min(now.addingClamped(length), slot.bannedAt.addingClamped(maxBan))",
     "        let wanted = now.addingClamped(length)"),
    ("knocking-extension-not-stored", "Sources/Greylist/Greylist+Operator.swift",
     "                sliceExtended.append((key, slot))\n", ""),
    ("spraying-bans-trusted", "Sources/Greylist/Greylist+Judgment.swift",
     "        if noteSpraying(user, from: key, now: now) && !trusted {", "        if noteSpraying(user, from: key, now: now) {"),
    ("range-ban-over-allowlist", "Sources/Greylist/Greylist+Judgment.swift",
     "        guard count >= policy.bannedKeys,\n              !configuration.allowlist.contains(where: { range.contains($0) || $0.contains(range) }) else { return }",
     "        guard count >= policy.bannedKeys else { return }"),
    ("range-window-ignored", "Sources/Greylist/Greylist+Judgment.swift",
     "            tracker.keys = tracker.keys.filter { $0.value > now - window }\n", ""),
    ("proxy-header-from-anyone", "Sources/Greylist/ProxyProtocol/ProxyProtocolPolicy.swift",
     "        trustedProxies.contains { $0.contains(peer) }", "        !trustedProxies.isEmpty"),
    ("binary-snapshot-crc-unchecked", "Sources/Greylist/Persistence/BinarySnapshot.swift",
     "            guard CRC32.checksum(body) == crc else { return .failure(.init(reason: \"checksum mismatch\")) }\n", ""),
    ("journal-parser-takes-duplicate-keys", "Sources/Greylist/Persistence/JournalLineParser.swift",
     "            guard seen & field == 0 else { return nil }", "            _ = seen & field"),
    ("pattern-end-anchor-ignored", "Sources/Greylist/Internal/Pattern/LinearPattern.swift",
     "            case .assertEnd: if position == length { stack.append(pc + 1) }", "            case .assertEnd: stack.append(pc + 1)"),
    ("pattern-start-anchor-ignored", "Sources/Greylist/Internal/Pattern/LinearPattern.swift",
     "            case .assertStart: if position == 0 { stack.append(pc + 1) }", "            case .assertStart: stack.append(pc + 1)"),
    ("per-address-cap-off-by-one", "Sources/GreylistDemoServer/Connections/ConnectionRegistry.swift",
     "            guard counts.open < state.policy.maxConnectionsPerAddress,", "            guard counts.open <= state.policy.maxConnectionsPerAddress,"),
    ("connection-cap-off-by-one", "Sources/GreylistDemoServer/Connections/ConnectionRegistry.swift",
     "            guard state.admitting, state.connections.count < state.policy.maxConnections,",
     "            guard state.admitting, state.connections.count <= state.policy.maxConnections,"),
    # Convergence of unbans, and the offload's replaced elements.
    ("own-pending-unban-forgotten-at-connect", "Sources/GreylistRedis/Cluster/RedisLink.swift",
     "        for (network, at) in store.shared.withLock({ $0.queue.pendingUnbans() }) { noteTombstone(network, at: at) }\n", ""),
    ("lifted-ban-message-applied", "Sources/GreylistRedis/Cluster/RedisLink.swift",
     "        case .ban(let entry) where isLifted(entry):", "        case .ban(let entry) where false && isLifted(entry):"),
    ("own-unban-no-tombstone", "Sources/GreylistRedis/Cluster/RedisLink+Flush.swift",
     "            noteTombstone(network, at: at)\n", ""),
    ("offload-reban-keeps-timeout", "Sources/GreylistDemoServer/Offload/KernelOffload.swift",
     "        let expiry = Self.elementExpiry(ban, now: now)\n        let set = NFTablesScript.setName(ban.network)\n",
     "        if offloaded[ban.network] != nil { return }\n        let expiry = Self.elementExpiry(ban, now: now)\n        let set = NFTablesScript.setName(ban.network)\n"),
    # The judgment's marks: stored, restored, shared.
    ("account-trust-not-stored", "Sources/Greylist/Greylist+Judgment.swift",
     "            persist(.accountTrusted(AccountMark(network: key, account: account, until: WallClock.date(until))))\n", ""),
    ("blocked-not-restored", "Sources/Greylist/Greylist+Marks.swift",
     "            for (pair, until) in kept.blockedLogins { table.block(pair, until: until, now: now) }\n", ""),
    ("name-mark-not-stored", "Sources/Greylist/Greylist+Judgment.swift",
     "        if let storeUntil { persist(.nameMarked(NameMark(name: name, until: WallClock.date(storeUntil)))) }\n", ""),
    ("snapshot-drops-marks", "Sources/Greylist/Persistence/BinarySnapshot.swift",
     "        encodeMarks(image.marks, into: &body)", "        encodeMarks(StoredMarks(), into: &body)"),
    ("marks-unclamped-at-start", "Sources/Greylist/Greylist+Marks.swift",
     "            return min(until, latest)\n", "            return until\n"),
    ("remote-marks-any-width", "Sources/Greylist/Greylist+Cluster.swift",
     "        case .accountTrusted(let mark) where mark.network != banKey(for: mark.network.address),",
     "        case .accountTrusted(let mark) where false,"),
    ("remote-budget-unclamped", "Sources/Greylist/Greylist+Cluster.swift",
     "            let until = min(WallClock.milliseconds(mark.until), now.addingClamped(configuration.trust.guessWindow.wholeMilliseconds))",
     "            let until = WallClock.milliseconds(mark.until)"),
    ("accounts-not-converged", "Sources/GreylistRedis/Cluster/RedisLink+Converge.swift",
     "        for kind in [\"account\", \"blocked\"] {", "        for kind in [\"blocked\"] {"),
    ("added-soft-trust-not-at-accept", "Sources/Greylist/Greylist+Marks.swift",
     "        gate.configure(allowlist: configuration.allowlist, softTrust: softTrustInForce, dryRun: configuration.dryRun,",
     "        gate.configure(allowlist: configuration.allowlist, softTrust: configuration.softTrust, dryRun: configuration.dryRun,"),
    ("oversized-bulk-fails", "Sources/GreylistRedis/RESP/RESPParser.swift",
     "                consumeLine(lineEnd)\n                skipping = (Int(length) + 2, Int(length))\n",
     "                throw RESPError(\"bulk string of \\(length) bytes, over the limit\")\n"),
    ("oversized-keys-not-counted", "Sources/GreylistRedis/Cluster/RedisLink+Converge.swift",
     "                foreign.note(\"a key name of \\(byteCount) bytes\")\n", "                _ = byteCount\n"),
    ("demo-answers-before-verdict", "Sources/GreylistDemoServer/Connections/ClientConnection.swift",
     "        Task { [greylist, peer, queue] in\n            let closeStream",
     "        resumeReading()\n        perform(session.failureRecorded(closeStream: false, at: .now))\n"
     "        Task { [greylist, peer, queue] in\n            let closeStream"),
    ("shared-tag-ignores-network", "Sources/GreylistRedis/Cluster/SharedRecord.swift",
     "        Array(\"\\(version) \\(network) \".utf8) + Array(body)", "        Array(\"\\(version) \".utf8) + Array(body)"),
    ("shared-tag-unchecked", "Sources/GreylistRedis/Cluster/SharedRecord.swift",
     "        guard SHA256.constantTimeEqual(key.tag(signed(network: network, body: body)), fields[1]) else { return nil }\n", ""),
    # Both guards against a second resume go (either alone prevents it): the original crash.
    ("verdict-resumes-twice", "Sources/GreylistDemoServer/Connections/ClientConnection.swift",
     ("        if readPaused {\n            readPaused = false\n", "                guard let self, !closed else { return }\n"),
     ("        if readPaused {\n", "                guard let self else { return }\n")),
    ("remote-scope-unchecked", "Sources/Greylist/Greylist+Cluster.swift",
     "        if let problem = remoteScopeProblem(change) {", "        if false, let problem = remoteScopeProblem(change) {"),
    ("remote-ban-uncapped", "Sources/Greylist/Greylist+Cluster.swift",
     "            var expiresAt = min(entry.expiresAtMilliseconds, now.addingClamped(configuration.limits.maxRemoteBan.wholeMilliseconds))",
     "            var expiresAt = entry.expiresAtMilliseconds"),
    ("remote-trust-any-width", "Sources/Greylist/Greylist+Cluster.swift",
     "        case .trusted(let key, _) where key != banKey(for: key.address), .distrusted(let key) where key != banKey(for: key.address):",
     "        case .distrusted(let key) where key != banKey(for: key.address):"),
    ("proxy-unknown-reported", "Sources/GreylistDemoServer/Connections/ProxyHeaderReception.swift",
     "AcceptedClient(address: proxy, reportsLogins: false, initialBytes: rest)", "AcceptedClient(address: proxy, initialBytes: rest)"),
    ("tcp6-mapped-refused", "Sources/Greylist/ProxyProtocol/ProxyHeaderParser.swift",
     "              let address = try? IPAddress(String(decoding: field, as: UTF8.self)) else { return nil }",
     "              let address = try? IPAddress(String(decoding: field, as: UTF8.self)), address.isIPv4 == isIPv4 else { return nil }"),
    ("sasl-payload-uncapped", "Sources/GreylistXMPP/XMPPServerSession.swift",
     "encoded.count <= settings.maxSASLPayloadBytes,", ""),
    ("malformed-logins-free", "Sources/GreylistXMPP/XMPPServerSession.swift",
     "    private mutating func malformedLogin(_ condition: String, into output: inout XMPPSessionOutput) {\n        failedAttempts += 1\n",
     "    private mutating func malformedLogin(_ condition: String, into output: inout XMPPSessionOutput) {\n        return append(saslFailure(condition), to: &output)\n"),
    ("ban-closes-stream", "Sources/GreylistXMPP/XMPPServerSession.swift",
     "        if closeStream { refusesLogins = true }\n",
     "        if closeStream { refusesLogins = true; streamError(\"policy-violation\", text: \"this address is banned\", into: &output) }\n"),
    ("banned-stream-checks-logins", "Sources/GreylistXMPP/XMPPServerSession.swift",
     "        if refusesLogins {\n            // The source is banned", "        if false {\n            // The source is banned"),
    ("offload-timeout-uncapped", "Sources/GreylistDemoServer/Offload/KernelOffload.swift",
     "        min(ban.expiresAt.millisecondsSince1970, now + NFTablesScript.maximumTimeoutSeconds * 1_000)",
     "        ban.expiresAt.millisecondsSince1970"),
    ("offload-covers-proxies", "Sources/GreylistDemoServer/DemoServer.swift",
     "exempt: configuration.greylist.allowlist + server.proxyProtocol.trustedProxies,", "exempt: configuration.greylist.allowlist,"),
    ("redis-reply-unbounded", "Sources/GreylistRedis/RESP/RESPParser.swift",
     "        guard replyBytes <= limits.maxReplyBytes else", "        guard true else"),
    ("wide-admin-ban-unforced", "Sources/GreylistAdmin/GreylistAdminServer.swift",
     "guard network.prefixLength >= widest || request.force == true else {", "guard true else {"),
    ("unknown-names-never-mark", "Sources/Greylist/Greylist+Judgment.swift",
     "tracker.note(key, now: now, window: window, keep: 2 * policy.distinctSources, threshold: policy.distinctSources,",
     "tracker.note(key, now: now, window: window, keep: 2 * policy.distinctSources, threshold: 2 * policy.distinctSources + 1,"),
    ("unknown-names-count-trusted", "Sources/Greylist/Greylist+Judgment.swift",
     "renewing: true) { !isTrusted($0, now: now) }", "renewing: true) { _ in true }"),
    ("unknown-names-ban-trusted", "Sources/Greylist/Greylist+Judgment.swift",
     "        if kind == .unknownAccount && !trusted && noteUnknownName(", "        if kind == .unknownAccount && noteUnknownName("),
    ("shared-address-revokes", "Sources/Greylist/Greylist+Judgment.swift",
     "        } else if trusted && kind == .invalidCredentials {\n            trusted = !revokeTrustIfAbused",
     "        }\n        if trusted && kind == .invalidCredentials {\n            trusted = !revokeTrustIfAbused"),
    ("guess-budget-unenforced", "Sources/Greylist/Greylist.swift",
     "            return end <= now\n", "            return end <= now || true\n"),
    ("shared-failures-keep-stream", "Sources/Greylist/Greylist+Judgment.swift",
     "            return .sharedAddress(key, dryRun: false)\n", ""),
    ("shared-address-any-count", "Sources/Greylist/Greylist+Judgment.swift",
     "        return needed > 0 && sharedAddresses.accountCount(on: key, now: now) >= needed", "        return needed > 0"),
    ("soft-trust-ignored-at-accept", "Sources/Greylist/Internal/AcceptGate.swift",
     "        if !softTrust.isEmpty && softTrust.contains(where: { $0.contains(address) }) { return true }\n", ""),
    ("soft-trust-not-shared", "Sources/Greylist/Greylist+Judgment.swift",
     "        if isSoftTrusted(key) { return true }\n        let needed", "        let needed"),
    ("spraying-window-ignored", "Sources/Greylist/Internal/AddressTracker.swift",
     "        sources = sources.filter { $0.value > now - window && counts($0.key) }", "        sources = sources.filter { counts($0.key) }"),
    ("trust-renewals-not-stored", "Sources/Greylist/Greylist+Judgment.swift",
     "        if previous.map({ until - $0 >= memory / 30 }) ?? true {\n            persist(.trusted(key, until: WallClock.date(until)))",
     "        if previous == nil {\n            persist(.trusted(key, until: WallClock.date(until)))"),
    ("account-trust-renewals-not-stored", "Sources/Greylist/Greylist+Judgment.swift",
     "        if previous.map({ until - $0 >= memory / 30 }) ?? true {\n            persist(.accountTrusted(",
     "        if previous == nil {\n            persist(.accountTrusted("),
    ("stored-trust-not-clamped", "Sources/Greylist/Greylist+Persistence.swift",
     "                    if slot.expiresAt > latestTrust {", "                    if false {"),
    ("login-keeps-unauthenticated-slot", "Sources/GreylistDemoServer/Connections/ConnectionRegistry.swift",
     "            state.perAddress[entry.source]?.unauthenticated -= 1\n", ""),
    ("missing-rules-key-empty", "Sources/GreylistDemoServer/Configuration/ServerConfiguration.swift",
     "            greylist.rules = Self.defaultGreylist.rules\n", ""),
    ("redis-password-shown", "Sources/GreylistRedis/Cluster/RedisStoreSettings.swift",
     "                return scheme + authority[..<colon] + \":***\" + path", "                return url"),
    ("remote-failures-not-counted", "Sources/Greylist/Greylist+Cluster.swift",
     "            applyRemote(failure)\n", "            _ = failure\n"),
    ("converge-skips-bans", "Sources/GreylistRedis/Cluster/RedisLink+Converge.swift",
     "            if !isLifted(entry) {", "            if false && !isLifted(entry) {"),
    ("state-not-shared-again", "Sources/Greylist/Greylist+Cluster.swift",
     "            store?.share(state: export())", "            break"),
    ("remote-bans-not-journaled", "Sources/Greylist/Greylist+Cluster.swift",
     "                  expiresAt: expiresAt, banCount: entry.banCount, share: false)",
     "                  expiresAt: expiresAt, banCount: entry.banCount, persist: false)"),
    ("own-messages-applied", "Sources/GreylistRedis/Cluster/RedisLink.swift",
     "        guard node != store.nodeID else { return }\n", ""),
    ("sweep-skips-after-removal", "Sources/Greylist/Internal/AcceptGate+Slices.swift",
     "                            tables[table].remove(at: index, shrinking: false)\n",
     "                            tables[table].remove(at: index, shrinking: false)\n                            index += 1\n"),
    ("slices-unbounded", "Sources/Greylist/Internal/AcceptGate+Slices.swift",
     "    static let sliceSize = 1_024", "    static let sliceSize = 1 << 40"),
    ("live-bans-not-uncounted", "Sources/Greylist/Internal/AcceptGate+Slices.swift",
     "                            if wasLive { liveBans -= 1 }", ""),
    ("snapshot-key-unchecked", "Sources/Greylist/Persistence/BinarySnapshot.swift",
     "guard key & ~table.mask == 0, IPAddress(bits: key).isIPv4 == table.isIPv4, slot.expiresAt != 0 else {",
     "guard slot.expiresAt != 0 else {"),
    ("journal-reader-drops-newline-escape", "Sources/Greylist/Persistence/JournalLineParser.swift",
     "case UInt8(ascii: \"n\"): decoded.append(0x0A)", "case UInt8(ascii: \"n\"): decoded.append(0x6E)"),
    ("offload-ignores-minimum", "Sources/GreylistDemoServer/Offload/KernelOffloadSettings.swift",
     "        return ban.duration >= minimumBan ||", "        return true ||"),
    ("journal-fsync-removed", "Sources/Greylist/Persistence/JournalWriter.swift",
     "let code = operations.syncFile(descriptor, path: directory + \"/\" + name)",
     "let code: Int32 = 0"),
    ("pattern-prefix-only", "Sources/Greylist/Internal/Pattern/LinearPattern.swift",
     "                if add(0, at: position, length: length, to: &current, stack: &stack, steps: &steps) { return (true, steps) }",
     "                if position == 0, add(0, at: position, length: length, to: &current, stack: &stack, steps: &steps) { return (true, steps) }"),
    ("compaction-deletes-journals-first", "Sources/Greylist/Persistence/JournalStore.swift",
     "                    try writeSnapshot(snapshot, covering: point)\n                    try removeJournals(before: point)",
     "                    try removeJournals(before: point)\n                    try writeSnapshot(snapshot, covering: point)"),
    ("failure-before-verdict", "Sources/GreylistXMPP/XMPPServerSession.swift",
     "        if verdict != .unavailable { failedAttempts += 1 }\n        waiting = .failureVerdict",
     "        if verdict != .unavailable { failedAttempts += 1 }\n        append(saslFailure(\"not-authorized\"), to: &output)\n        waiting = .failureVerdict"),
    ("ban-never-expires", "Sources/Greylist/Internal/AcceptGate.swift",
     "                guard slot.expiresAt > now else { continue }", "                guard slot.expiresAt != 0 else { continue }"),
    ("allowlist-ignored-when-counting", "Sources/Greylist/Greylist+Judgment.swift",
     "guard !configuration.allowlist.contains(where: { $0.contains(ip) }) else { return .allowlisted }", ""),
    ("no-escalation", "Sources/Greylist/Greylist+Judgment.swift",
     "            previous = slot.banCount", "            previous = 0"),
    ("trust-ignored-at-accept", "Sources/Greylist/Internal/AcceptGate.swift",
     "if slot.isRuleBan && state.isTrusted(address, now: now) {", "if slot.isRuleBan && state.isTrusted(address, now: now) && false {"),
    ("knocking-never-extends", "Sources/Greylist/Internal/AcceptGate.swift",
     "        return wanted > slot.expiresAt ? wanted : nil", "        return nil"),
    ("success-clears-every-account", "Sources/Greylist/Greylist.swift",
     "        trackers.modify(key) { $0.clear(account: user) }", "        trackers.remove(key)"),
    ("spraying-never-marks", "Sources/Greylist/Internal/AddressTracker.swift",
     "        if sources.count >= threshold || (renewing && wasMarked) {", "        if sources.count > threshold || (renewing && wasMarked) {"),
    ("ranges-never-ban", "Sources/Greylist/Greylist+Judgment.swift",
     "        guard count >= policy.bannedKeys,", "        guard count >= policy.bannedKeys + 1_000,"),
    ("journal-crc-not-checked", "Sources/Greylist/Persistence/JournalRecord.swift",
     "        guard CRC32.checksum(json) == crc else { return nil }", ""),
    ("restart-features-in-a-second-write", "Sources/GreylistDemoServer/Connections/ConnectionRegistry.swift",
     "            try? Syscalls.setNoDelay(descriptor)", ""),
    ("refusals-not-counted", "Sources/Greylist/Internal/AcceptGate.swift",
     "                state.refused += 1", ""),
    ("eviction-drops-latest-expiring", "Sources/Greylist/Internal/AcceptGate+Slices.swift",
     "heap.count < limit || slot.expiresAt < heap.minimum!.slot.expiresAt else { continue }",
     "heap.count < limit || slot.expiresAt > heap.minimum!.slot.expiresAt else { continue }"),
    ("torn-write-not-cut-back", "Sources/Greylist/Persistence/JournalWriter.swift",
     "            if start < 0 || System.truncate(file.descriptor, to: start) != 0 {",
     "            if start < 0 && System.truncate(file.descriptor, to: start) != 0 {"),
    ("state-directory-mode-unchecked", "Sources/Greylist/Persistence/JournalStore.swift",
     "        guard mode & 0o022 == 0 else {", "        guard mode & 0o022 == 0 || true else {"),
    ("stored-rule-bans-not-clamped", "Sources/Greylist/Greylist+Persistence.swift",
     "                    if slot.expiresAt > latestRuleExpiry {", "                    if false {"),
    ("log-not-escaped", "Sources/Greylist/OperatorText.swift",
     "        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true",
     "        case 0x7F...0x9F: return true"),
    ("duration-sum-unchecked", "Sources/Greylist/Internal/DurationText.swift",
     "guard !overflow, !overflowAgain, sum <= maximumMilliseconds else", "guard !overflow, !overflowAgain else"),
]


def sync_scratch():
    os.makedirs(SCRATCH, exist_ok=True)
    # The fuzzing seeds too: a test decodes one as a check of the documented snapshot format.
    for entry in ["Package.swift", "Sources", "Tests", "config.example.json", "FuzzTesting/Corpus"]:
        source, target = os.path.join(ROOT, entry), os.path.join(SCRATCH, entry)
        if os.path.isdir(source):
            shutil.rmtree(target, ignore_errors=True)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)


def run(command, timeout):
    try:
        done = subprocess.run(command, cwd=SCRATCH, capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        return "timeout", ""


def check():
    """Whether every mutant's original text is in its file exactly once (no build, no test)."""
    missing = []
    for name, path, original, _ in MUTANTS:
        originals = original if isinstance(original, tuple) else (original,)
        text = open(os.path.join(ROOT, path)).read() if os.path.exists(os.path.join(ROOT, path)) else ""
        if any(text.count(piece) != 1 for piece in originals):
            missing.append(f"{name} ({path})")
    print(f"{len(MUTANTS) - len(missing)} of {len(MUTANTS)} mutants apply" + (": not " + ", ".join(missing) if missing else ""))
    return 1 if missing else 0


def main(selected):
    if selected == ["--check"]:
        return check()
    mutants = [m for m in MUTANTS if not selected or m[0] in selected]
    sync_scratch()
    code, output = run(["swift", "build", "--build-tests"], 1800)
    if code != 0:
        print("the unmutated package does not build:\n" + output[-3000:])
        return 2
    code, output = run(["swift", "test", "--skip-build"], 900)
    if code != 0:
        print("the unmutated suite fails; fix it first:\n" + output[-3000:])
        return 2
    survived = []
    for name, path, original, mutated in mutants:
        sync_scratch()
        target = os.path.join(SCRATCH, path)
        text = open(target).read()
        # A mutant changes one place, or several (a tuple of originals and one of replacements).
        originals = original if isinstance(original, tuple) else (original,)
        replacements = mutated if isinstance(mutated, tuple) else (mutated,)
        if any(text.count(piece) != 1 for piece in originals):
            print(f"{name}: NOT APPLIED (the original text is no longer in {path} exactly once)")
            survived.append(name)
            continue
        for piece, replacement in zip(originals, replacements):
            text = text.replace(piece, replacement)
        open(target, "w").write(text)
        started = time.time()
        code, output = run(["swift", "build", "--build-tests"], 1800)
        if code != 0:
            verdict = "killed (does not compile)"
        else:
            code, output = run(["swift", "test", "--skip-build"], 900)
            verdict = "survived" if code == 0 else ("killed (suite timed out)" if code == "timeout" else "killed")
        if verdict == "survived":
            survived.append(name)
        print(f"{name}: {verdict} ({time.time() - started:.0f} s)", flush=True)
    sync_scratch()
    killed = len(mutants) - len(survived)
    print(f"mutants: {killed} killed, {len(survived)} survived of {len(mutants)}" + (f": {', '.join(survived)}" if survived else ""))
    return 0 if not survived else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
