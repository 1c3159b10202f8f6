import Foundation
import Greylist
import Synchronization
import Testing

// A client module with names of its own, as a real server has: its `Configuration`, `Rule`,
// `Event` and `IPAddress` must not hide the library's. This file compiling is half the test.

/// The host server's own configuration type.
struct Configuration {
    var port = 5222
}

/// The host server's own rule type.
struct Rule {
    var name: String
}

/// The host server's own event type.
enum Event {
    case started
}

/// The host server's own address type.
struct IPAddress {
    var text: String
}

@Suite struct ClientNamingTests {
    @Test("a module with its own Configuration, Rule, Event and IPAddress still names the library's")
    func namesResolve() async throws {
        let own = Configuration()
        let rule = Greylist.Rule(name: "botnet", pattern: "^bad_user_[0-9]+$", banFor: .seconds(3_600))
        let configuration: Greylist.Configuration = GreylistConfiguration(rules: [rule])
        let events = EventLog()
        let greylist = try Greylist(configuration: configuration, events: { events.append($0) })
        let source = try Greylist::IPAddress("203.0.113.7")
        let outcome = await greylist.recordFailedAuth(user: "bad_user_1", ip: source)
        #expect(outcome.closesStream)
        #expect(!greylist.shouldAccept(ip: source))
        let banned: [Greylist.Event] = events.all.filter { if case .banned = $0 { return true } else { return false } }
        #expect(banned.count == 1)
        #expect(own.port == 5222)
        #expect(Rule(name: "mine").name == "mine" && Event.started == .started && IPAddress(text: "x").text == "x")
    }
}

/// Collects events from the greylist's synchronous sink.
final class EventLog: Sendable {
    private let events = Mutex<[Greylist.Event]>([])

    func append(_ event: Greylist.Event) { events.withLock { $0.append(event) } }
    var all: [Greylist.Event] { events.withLock { $0 } }
}
