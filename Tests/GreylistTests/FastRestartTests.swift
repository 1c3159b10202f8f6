import Foundation
import GreylistTestSupport
import Testing

@_spi(Fuzzing) @testable import Greylist

/// The load-built state format: binary snapshots, the hand-written journal reader, and a
/// start-up that writes nothing.
@Suite struct FastRestartTests {
    let clock = ManualClock(Date())

    func open(_ directory: String, threshold: Int = 1 << 20) async throws -> Greylist {
        let store = try await JournalStore.open(directory: directory, compactionThreshold: threshold)
        let configuration = GreylistConfiguration(rules: [botnetRule], spraying: .init(distinctSources: 0), ranges: .init(bannedKeys: 0))
        return try Greylist(configuration: configuration, clock: clock.wallClock, store: store)
    }

    @Test("CRC-32 by slices of eight: the standard check value, and the same as byte by byte at every length")
    func checksum() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        var generator = SeededRandom(state: 7)
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for length in 0...bytes.count {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes.prefix(length) {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
            }
            #expect(CRC32.checksum(bytes.prefix(length)) == crc ^ 0xFFFF_FFFF, "length \(length)")
        }
    }

    @Test("the journal reader takes every record the writer makes, escapes and all, without a JSON decoder")
    func lineParserRoundTrip() throws {
        let now = WallClock.milliseconds(clock.now)
        let changes: [GreylistChange] = [
            .banned(BanEntry(network: .cidr("2001:db8:1:2::/64"), reason: .rule("botnet"), user: "bad\"user\\\n\u{1B}[2J\u{0}é😀",
                             bannedAt: clock.now, expiresAt: clock.now.addingTimeInterval(3_600), banCount: 3)),
            .banned(BanEntry(network: .cidr("198.51.100.0/24"), reason: .manual("abuse\treport\u{7F}"), bannedAt: clock.now,
                             expiresAt: clock.now.addingTimeInterval(60))),
            .removed(.cidr("203.0.113.7/32")), .unbanned(.cidr("10.0.0.0/8")),
            .trusted(.cidr("192.0.2.1/32"), until: WallClock.date(now + 5)), .distrusted(.cidr("192.0.2.1/32")),
        ]
        for change in changes {
            let record = JournalRecord(change)
            let line = record.line
            let json = line[9..<(line.count - 1)]
            #expect(JournalLineParser.parse(json) == record, "\(change)")
            #expect(JournalLineParser.parse(json) == (try JSONDecoder().decode(JournalRecord.self, from: Data(json))))
        }
        let spaced = #" { "op" : "ban", "network":"192.0.2.9/32","rule":"r\u00e9\ud83d\ude00\/", "extra": null, "x": [1], "banCount":1,"bannedAt":-5,"expiresAt":9} "#
        #expect(JournalLineParser.parse(ArraySlice(spaced.utf8)) == nil, "a nested value: left to the decoder")
        let flat = spaced.replacingOccurrences(of: #""x": [1], "#, with: "")
        let record = try #require(JournalLineParser.parse(ArraySlice(flat.utf8)))
        #expect(record.rule == "ré😀/" && record.bannedAt == -5 && record.expiresAt == 9)
        for bad in [#"{"op":"ban","network":"a","op":"unban"}"#, #"{"op":"ban","network":"a","banCount":1.5}"#,
                    #"{"op":"ban","network":"a","bannedAt":99999999999999999999}"#, #"{"op":"ban","network":"a\u12"}"#,
                    #"{"op":"ban","network":"a","rule":"\ud800"}"#, #"{"op":"ban"}"#, "{", #"{"op":"ban","network":"a"}x"#,
                    #"{"op":"ban","network":"a","banCount":01}"#, "{\"op\":\"ban\",\"network\":\"a\u{1}\"}"] {
            #expect(JournalLineParser.parse(ArraySlice(bad.utf8)) == nil, "\(bad)")
        }
        let invalidUTF8 = Array(#"{"op":"ban","network":"a"#.utf8) + [0xFF] + Array(#""}"#.utf8)
        #expect(JournalLineParser.parse(invalidUTF8[...]) == nil, "bytes that are not UTF-8 are refused, as the decoder refuses them")
    }

    @Test("bans, histories, trust, users and refused counts survive a binary snapshot; reopening writes nothing")
    func binaryRoundTrip() async throws {
        let directory = temporaryStateDirectory()
        var greylist = try await open(directory, threshold: 0)
        await greylist.recordSuccessfulAuth(user: "alice", ip: .literal("192.0.2.50"))
        for index in 1...40 {
            await greylist.recordFailedAuth(user: "bad_user_\(10_000 + index)", ip: .literal("2001:db8:\(index)::1"))
        }
        await greylist.recordFailedAuth(user: "bad_user_99999", ip: .literal("203.0.113.8"))
        try await greylist.ban(.cidr("198.51.100.0/24"), for: .seconds(86_400), reason: "abuse \"report\"")
        #expect(!greylist.shouldAccept(ip: .literal("203.0.113.8")))
        #expect(!greylist.shouldAccept(ip: .literal("203.0.113.8")))
        clock.advance(by: .seconds(1))
        // The compaction at the last change holds everything; a history appears once a ban ends.
        let before = await greylist.export()
        await greylist.closeStore()
        let snapshot = try Data(contentsOf: URL(fileURLWithPath: directory + "/snapshot"))
        #expect(snapshot.starts(with: Array("greylist-snapshot 4 ".utf8)))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()

        greylist = try await open(directory)
        // Refused counts are kept by snapshots, not journaled: compare without them.
        func uncounted(_ snapshot: GreylistSnapshot) -> GreylistSnapshot {
            var snapshot = snapshot
            snapshot.bans = snapshot.bans.map { var ban = $0; ban.refusedCount = 0; return ban }
            return snapshot
        }
        #expect(uncounted(await greylist.export()) == uncounted(before))
        #expect(!greylist.shouldAccept(ip: .literal("2001:db8:7::99")))
        #expect(greylist.shouldAccept(ip: .literal("192.0.2.50")))
        let listed = await greylist.list()
        #expect(listed.first { $0.network == .cidr("203.0.113.8/32") }?.user == "bad_user_99999")
        #expect(listed.first { $0.network == .cidr("198.51.100.0/24") }?.reason == .manual("abuse \"report\""))
        await greylist.closeStore()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == files, "start-up wrote no file")
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/snapshot")) == snapshot, "nor rewrote the snapshot")
    }

    @Test("a CRC-valid binary snapshot with senseless slots: they are skipped and counted, the rest loads")
    func hostileBinarySnapshot() throws {
        let now = WallClock.milliseconds(clock.now)
        func slot(_ key: UInt128, reason: UInt16 = 0) -> BanSlot {
            BanSlot(key: key, expiresAt: now + 60_000, bannedAt: now, banCount: 1, reason: reason)
        }
        let good = IPAddress.literal("192.0.2.1").bits
        var empty = slot(good + 1)
        empty.expiresAt = 0
        var counted = slot(good)
        counted.refusedCount = 7
        let tables = [
            // An IPv4 /32 table: one good slot, one with an IPv6 key, one empty, one with an unknown reason.
            StateImage.Table(isTrust: false, isIPv4: true, widePrefixLength: 128,
                             slots: [counted, slot(IPAddress.literal("2001:db8::1").bits), empty, slot(good + 2, reason: 999)]),
            // A /24 table whose key has host bits set.
            StateImage.Table(isTrust: false, isIPv4: true, widePrefixLength: 120, slots: [slot(good)]),
            // An IPv4 table with an impossible prefix.
            StateImage.Table(isTrust: false, isIPv4: true, widePrefixLength: 40, slots: [slot(good)]),
        ]
        let bytes = BinarySnapshot.encode(StateImage(tables: tables, reasons: [.manual("x")], users: []), covering: 1)
        let state = JournalStore.decodeStateFile(bytes, name: "snapshot")
        #expect(state.bans.map(\.network) == [.cidr("192.0.2.1/32"), .cidr("192.0.2.3/32")])
        #expect(state.bans.first?.refusedCount == 7, "refused counts are in the snapshot")
        #expect(state.bans.last?.reason == .manual("(more than 65,535 distinct reasons)"), "an unknown reason index is a placeholder")
        #expect(state.warnings == ["snapshot: skipped 4 record(s) that make no sense"])
        for cut in [bytes.count - 1, bytes.count - 41, 60] {
            var truncated = Array(bytes.prefix(cut))
            if let newline = truncated.firstIndex(of: 0x0A) {
                // Repair the header so only the body's shape is wrong.
                let body = Array(truncated[(newline + 1)...])
                let header = "greylist-snapshot 3 covers=1 bytes=\(body.count) crc=\(String(CRC32.checksum(body), radix: 16))\n"
                truncated = Array(header.utf8) + body
            }
            let damaged = JournalStore.decodeStateFile(truncated, name: "snapshot")
            #expect(damaged.bans.isEmpty && damaged.warnings.count == 1 && damaged.warnings[0].contains("damaged"), "cut at \(cut)")
        }
    }

    @Test("the fuzzing seed, written by an independent encoder from the documented format, decodes as intended")
    func documentedFormat() throws {
        let seed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzTesting/Corpus/FuzzJournal/raw-binary-snapshot")
        let state = JournalStore.decodeStateFile(Array(try Data(contentsOf: seed).dropFirst()), name: "seed")
        #expect(state.warnings.isEmpty)
        // Fixed instants: the bans end in 2100, the history ended in 2020.
        try #require(state.bans.map(\.network) == [.cidr("192.0.2.1/32"), .cidr("198.51.100.0/24"), .cidr("2001:db8:0:1::/64")])
        #expect(state.bans.first?.user == "bad_user_12345" && state.bans.first?.refusedCount == 3)
        #expect(state.bans[1].reason == .manual("abuse report") && state.bans[2].reason == .rule("botnet"))
        #expect(state.histories.map(\.network) == [.cidr("192.0.2.2/32")])
        #expect(state.trusted.map(\.network) == [.cidr("192.0.2.50/32")])
    }

    @Test("a journal record whose JSON is still valid after a flipped digit fails its checksum and is skipped")
    func flippedDigit() {
        let ban = BanEntry(network: .cidr("192.0.2.1/32"), reason: .manual("x"), bannedAt: clock.now, expiresAt: clock.now.addingTimeInterval(3_600))
        let other = BanEntry(network: .cidr("192.0.2.2/32"), reason: .manual("x"), bannedAt: clock.now, expiresAt: clock.now.addingTimeInterval(3_600))
        var first = JournalRecord(.banned(ban)).line
        // The last digit of expiresAt, one higher: still a valid record, only the CRC tells.
        let key = Array(#""expiresAt":"#.utf8)
        let start = (0...(first.count - key.count)).first { Array(first[$0..<($0 + key.count)]) == key }! + key.count
        let digit = first[start...].firstIndex { !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }! - 1
        first[digit] = first[digit] == UInt8(ascii: "9") ? UInt8(ascii: "8") : first[digit] + 1
        let state = JournalStore.decodeStateFile(first + JournalRecord(.banned(other)).line, name: "journal")
        #expect(state.bans.map(\.network) == [.cidr("192.0.2.2/32")])
        #expect(state.warnings == ["journal: skipped a damaged record on line 1"])
    }
}

/// The journal reader parses networks from bytes; it must agree with the public parser.
@Suite struct NetworkBytesParserTests {
    @Test("IPNetwork.parse(bytes) agrees with IPNetwork(text) on chosen and on 50,000 random inputs")
    func agrees() {
        var inputs = ["192.0.2.1/32", "192.0.2.0/24", "10.1.2.3/8", "0.0.0.0/0", "2001:db8::/32", "2001:db8:0:1::/64", "::/0", "::1/128",
                      "::ffff:10.0.0.0/104", "::ffff:10.0.0.0/95", "64:ff9b::192.0.2.33/128", "1::2:3:4:5:6:7", "1:2:3:4:5:6:7:8",
                      "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::", "1:", "::", "1.2.3.4", "01.2.3.4/8", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/+8",
                      "1.2.3.4/0008", "2001:db8::/129", "fe80::1%eth0/64", "[::1]/128", "1.2.3.4/24/5", "::1.2.3.4", "::ffff:1.2.3.4/128",
                      "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "", "/", "/24", "ABCD::ef/16", "12345::/16", "1::g/16"]
        var generator = SeededRandom(state: 11)
        let alphabet = Array("0123456789abcdef:./".utf8)
        for _ in 0..<50_000 {
            let length = Int.random(in: 1...45, using: &generator)
            inputs.append(String(decoding: (0..<length).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self))
        }
        for input in inputs {
            let fast = IPNetwork.parse(Array(input.utf8)[...])
            let reference = try? IPNetwork(input)
            if fast != reference {
                Issue.record("\"\(input)\": bytes \(String(describing: fast)), text \(String(describing: reference))")
                return
            }
        }
    }
}
