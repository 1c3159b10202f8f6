import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist
@testable @_spi(Fuzzing) @_spi(Internals) import GreylistRedis

/// The shared value and message format, the link's queue, and the settings' URL.
struct SharedRecordTests {
    static let entry = BanEntry(network: .cidr("2001:db8::/64"), reason: .manual("abuse desk: ticket 42"), user: "bad user\n%",
                                bannedAtMilliseconds: 1_800_000_000_000, expiresAtMilliseconds: 1_800_003_600_000, banCount: 3, refusedCount: 0)

    static let records: [SharedRecord] = [
        .ban(entry),
        .ban(BanEntry(network: .cidr("203.0.113.7/32"), reason: .rule("botnet"), user: nil, bannedAtMilliseconds: 1,
                      expiresAtMilliseconds: 2, banCount: 1, refusedCount: 0)),
        .unban(.cidr("192.0.2.0/24"), at: 1_800_000_000_000),
        .trust(.cidr("198.51.100.4/32"), until: 1_800_000_000_000),
        .distrust(.cidr("198.51.100.4/32")),
        .failure(SharedFailure(key: .cidr("203.0.113.7/32"), rule: "slow", account: "admin", at: Date(timeIntervalSince1970: 1_800_000_000))),
        .accountTrust(.cidr("198.51.100.4/32"), account: "alice smith", until: 1_800_000_000_000),
        .loginsBlocked(.cidr("2001:db8::/64"), account: "böb%", until: 1_800_000_000_000),
    ]

    @Test(arguments: records) func valuesAndMessagesRoundTrip(_ record: SharedRecord) {
        #expect(SharedRecord.decode(value: record.value(key: .forTests), network: record.network, key: ClusterKey.forTests) == record)
        let decoded = SharedRecord.decode(message: record.message(from: "node-7", key: ClusterKey.forTests), key: .forTests)
        #expect(decoded?.node == "node-7")
        #expect(decoded?.record == record)
        #expect(!record.value(key: .forTests).contains(0x0A) && !record.value(key: .forTests).contains(0x0D))
    }

    @Test func aValueUnderAnotherKeyOrAlteredIsForeign() {
        let value = SharedRecord.ban(Self.entry).value(key: .forTests)
        #expect(SharedRecord.decode(value: value, network: .cidr("2001:db8:1::/64"), key: ClusterKey.forTests) == nil)
        for index in value.indices {
            var altered = value
            altered[index] ^= 0x01
            #expect(SharedRecord.decode(value: altered, network: Self.entry.network, key: ClusterKey.forTests) == nil, "byte \(index) flipped")
        }
        #expect(SharedRecord.decode(value: Array(value.dropLast()), network: Self.entry.network, key: ClusterKey.forTests) == nil)
    }

    @Test(arguments: ["", "g1", "g1 ", "g2 00000000 d", "g1 zzzzzzzz d", "g1 00000000 d", "g1 0 d", "x y z",
                      String(repeating: "g1 ", count: 2_000)])
    func garbageIsForeign(_ text: String) {
        #expect(SharedRecord.decode(value: Array(text.utf8), network: .cidr("192.0.2.1/32"), key: ClusterKey.forTests) == nil)
        #expect(SharedRecord.decode(message: Array("node 192.0.2.1/32 \(text)".utf8), key: .forTests) == nil)
    }

    @Test func messagesNameACanonicalNetwork() {
        let value = SharedRecord.distrust(.cidr("192.0.2.1/32")).value(key: .forTests)
        #expect(SharedRecord.decode(message: Array("n 192.0.2.1/32 ".utf8) + value, key: .forTests) != nil)
        #expect(SharedRecord.decode(message: Array("n 192.0.2.01/32 ".utf8) + value, key: .forTests) == nil)
        #expect(SharedRecord.decode(message: Array("n  ".utf8) + value, key: .forTests) == nil)
        #expect(SharedRecord.decode(message: Array(String(repeating: "n", count: 65).utf8) + Array(" 192.0.2.1/32 ".utf8) + value, key: .forTests) == nil)
    }

    @Test func theQueueKeepsTheLatestChangeOfAKeyInOrder() {
        var queue = OutgoingQueue(capacity: 3)
        let first = SharedRecord.ban(Self.entry)
        queue.push(first)
        queue.push(.trust(.cidr("192.0.2.9/32"), until: 5))
        queue.push(.unban(Self.entry.network, at: 9))
        #expect(queue.count == 2)
        let sent = queue.peek(10)
        #expect(sent.map(\.entry.record) == [.trust(.cidr("192.0.2.9/32"), until: 5), .unban(Self.entry.network, at: 9)])
        // A change that arrives while a batch is out stays queued when the batch is acknowledged.
        queue.push(.distrust(.cidr("192.0.2.9/32")))
        queue.acknowledge(sent)
        #expect(queue.peek(10).map(\.entry.record) == [.distrust(.cidr("192.0.2.9/32"))])
        #expect(!queue.stateOwed)
        for index in 1...5 { queue.push(.distrust(.cidr("10.0.0.\(index)/32"))) }
        #expect(queue.count == 3)
        let owed = queue.takeStateOwed()
        let owedAgain = queue.takeStateOwed()
        #expect(owed && !owedAgain)
        #expect(queue.peek(10).map(\.entry.record.network) == [.cidr("10.0.0.3/32"), .cidr("10.0.0.4/32"), .cidr("10.0.0.5/32")])
        for index in 0..<5_000 { queue.push(.failure(SharedFailure(key: .cidr("10.0.0.1/32"), rule: "r", account: "\(index)", at: Date()))) }
        #expect(queue.takeFailures().count == queue.failureCapacity)
    }

    @Test func settingsFromAURL() throws {
        let plain = try RedisStoreSettings(url: "redis://127.0.0.1:6390/3", namespace: "{xmpp}")
        #expect(plain.host == "127.0.0.1" && plain.port == 6390 && plain.database == 3 && plain.password == nil)
        #expect(plain.key("ban", "192.0.2.1/32") == "{xmpp}:ban:192.0.2.1/32")
        let acl = try RedisStoreSettings(url: "redis://greylist:p%40ss@[::1]/0")
        #expect(acl.host == "::1" && acl.port == 6379 && acl.username == "greylist" && acl.password == "p@ss")
        #expect(acl.displayed == "redis://greylist@[::1]:6379/0")
        #expect(try RedisStoreSettings(url: "redis://localhost").host == "127.0.0.1")
        for (url, named) in [("http://127.0.0.1", "http://127.0.0.1"), ("redis://127.0.0.1:port", "redis://127.0.0.1:***"), ("redis://default:Secret", "redis://default:***"),
                             ("redis://:secret@127.0.0.1:99999", "99999"), ("redis://:secret@127.0.0.1/x", "redis://***@127.0.0.1/x"),
                             ("redis://", "redis://"), ("rediss://:secret@host", "***@host")] {
            do {
                _ = try RedisStoreSettings(url: url)
                Issue.record("\(url) was accepted")
            } catch {
                #expect(error.description.contains(named), "\(error)")
                #expect(!error.description.contains("secret"))
            }
        }
        #expect(throws: RedisError.self) { try RedisStoreSettings(namespace: "a b") }
        #expect(throws: RedisError.self) { try RedisStoreSettings(namespace: "") }
    }
}

/// The fuzzing seeds (written by an independent Python encoder with zlib's CRC-32) decode: the
/// format document and the seeds cannot drift apart.
/// What FuzzSharedRecord found once its tags were repaired, so mutations reached the body.
struct SharedRecordFuzzRegressionTests {
    @Test("text with raw control bytes is not the encoder's form: foreign, not a record whose own value would be too long to decode")
    func rawControlBytes() {
        let network = IPNetwork.cidr("2001:db8::/64")
        let body = "b 1800000000000 1800003600000 3 m =a" + String(repeating: "\u{0}", count: 700) + "b -"
        let value = SharedRecord.retagged(value: Array(("g2 x " + body).utf8), network: network, key: .forTests)
        #expect(SharedRecord.decode(value: value, network: network, key: .forTests) == nil)
        let escaped = SharedRecord.retagged(value: Array("g2 x b 1800000000000 1800003600000 3 m =a%00b -".utf8), network: network, key: .forTests)
        guard case .ban(let entry)? = SharedRecord.decode(value: escaped, network: network, key: .forTests) else {
            Issue.record("the escaped form does not decode")
            return
        }
        #expect(entry.reason == .manual("a\u{0}b"))
    }
}

struct SharedRecordSeedTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("FuzzTesting/Corpus/FuzzSharedRecord")

    @Test func everySeedDecodes() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).sorted()
        #expect(names.count == 10)
        for name in names {
            let bytes = Array(try Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            let rest = Array(bytes.dropFirst())
            let record = bytes[0] % 2 == 0 ? SharedRecord.decode(message: rest, key: ClusterKey.forTests)?.record
                : SharedRecord.decode(value: rest, network: .cidr("192.0.2.1/32"), key: ClusterKey.forTests)
            #expect(record != nil, "\(name) does not decode")
        }
    }
}
