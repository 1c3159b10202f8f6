import GreylistTestSupport
import GreylistAdmin
import GreylistSystem
import Foundation
import Glibc
import Testing
@testable import GreylistDemoServer

/// The admin socket: where it lives, who may use it, and that it is gone after a clean stop.
@Suite struct AdminSocketTests {
    @Test("by default the admin socket is admin.sock in the state directory; without one, there is none unless set")
    func defaultPath() {
        var configuration = DemoConfiguration()
        #expect(configuration.adminSocketPath == "greylist-state/admin.sock")
        configuration.greylist.stateDirectory = ""
        #expect(configuration.adminSocketPath == nil)
        configuration.server.adminSocket = "/run/greylist/admin.sock"
        #expect(configuration.adminSocketPath == "/run/greylist/admin.sock")
        configuration.server.adminSocket = ""
        #expect(configuration.adminSocketPath == nil)
    }

    @Test("only the server's own user or root may use it")
    func peerRule() {
        #expect(GreylistAdminServer.isAllowed(peer: 1_000, server: 1_000))
        #expect(GreylistAdminServer.isAllowed(peer: 0, server: 1_000))
        #expect(!GreylistAdminServer.isAllowed(peer: 1_001, server: 1_000))
    }

    @Test("the socket is created 0600 and removed when the server stops")
    func modeAndRemoval() async throws {
        let fixture = try DemoServerFixture()
        var status = stat()
        #expect(stat(fixture.adminSocket, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        await fixture.stop()
        #expect(access(fixture.adminSocket, F_OK) != 0, "the socket file is gone")
    }

    @Test("a client of another user is refused even when the file mode would let it in (checked as root)")
    func otherUserRefused() async throws {
        guard geteuid() == 0 else { return }
        let fixture = try DemoServerFixture()
        #expect(chmod(fixture.adminSocket, 0o666) == 0)
        // A child that drops to uid 65534 (nobody) and sends a request: the server closes without a word.
        let script = """
        import os, socket, sys
        os.setgid(65534); os.setuid(65534)
        s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
        try:
            s.sendall(b'{"command":"list"}\\n')
            print("answered" if s.recv(4096) else "refused")
        except (ConnectionResetError, BrokenPipeError):
            print("refused")
        """
        let reply = try await Blocking.run { () throws -> String in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, fixture.adminSocket]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = Pipes.read(output.fileHandleForReading.fileDescriptor, until: nil, within: 20)
            process.waitUntilExit()
            return text
        }
        #expect(reply.trimmingCharacters(in: .whitespacesAndNewlines) == "refused", "\(reply)")
        await fixture.stop()
    }

    @Test("ban of a network wider than adminWidestBan needs --force; trusted lists the keys a login trusted, distrust takes it back")
    func wideBansAndTrust() async throws {
        let fixture = try DemoServerFixture { $0.greylist.softTrust = [.cidr("198.51.100.0/24")] }
        let admin = DemoProcessTests()
        // Through the command line once; the other widths through the socket in-process (each
        // admin process costs seconds under ThreadSanitizer on a loaded machine).
        let refused = try await admin.admin(["ban", "0.0.0.0/0"], socket: fixture.adminSocket)
        #expect(refused.status == 1)
        #expect(refused.output.contains("0.0.0.0/0 is wider than /16") && refused.output.contains("--force"), "\(refused.output)")
        let socket = fixture.adminSocket
        for network in ["10.0.0.0/8", "::/0", "2001:db8::/16"] {
            let answer = try await Blocking.run { try GreylistAdminClient.send(GreylistAdminRequest(command: "ban", network: network), to: socket) }
            #expect(!answer.ok && answer.error?.contains("is wider than /") == true, "\(network): \(answer)")
        }
        #expect(await fixture.server.greylist.list().isEmpty)
        #expect(try await Blocking.run { try GreylistAdminClient.send(GreylistAdminRequest(command: "ban", network: "10.1.0.0/16"), to: socket) }.ok)
        #expect(try await admin.admin(["ban", "10.0.0.0/8", "--force"], socket: fixture.adminSocket).status == 0)
        #expect(await fixture.server.greylist.list().count == 2)

        #expect(try await admin.admin(["trusted"], socket: fixture.adminSocket).output.contains("198.51.100.0/24           soft trust (configuration)"))
        #expect(try await fixture.login(from: "127.0.0.31").contains("<jid>"))
        let listed = try await admin.admin(["trusted"], socket: fixture.adminSocket).output
        #expect(listed.contains("127.0.0.31/32") && listed.contains("trusted until"), "\(listed)")
        let revoked = try await admin.admin(["distrust", "127.0.0.0/24"], socket: fixture.adminSocket).output
        #expect(revoked.contains("took trust from 1 key(s)"), "\(revoked)")
        #expect(await fixture.server.greylist.trusted().isEmpty)
        await fixture.stop()
    }

    @Test("soft-trust adds a network whose bans are soft, listed apart from the configuration's; soft-untrust takes it out")
    func softTrust() async throws {
        let fixture = try DemoServerFixture { $0.greylist.softTrust = [.cidr("198.51.100.0/24")] }
        let admin = DemoProcessTests()
        let added = try await admin.admin(["soft-trust", "127.0.0.0/24"], socket: fixture.adminSocket)
        #expect(added.status == 0)
        #expect(added.output.contains("soft trust added") && added.output.contains("127.0.0.0/24              soft trust (admin)")
            && added.output.contains("198.51.100.0/24           soft trust (configuration)"), "\(added.output)")
        #expect(await fixture.server.greylist.softTrustNetworks == [.cidr("198.51.100.0/24"), .cidr("127.0.0.0/24")])
        // A ban inside it is soft: the accept path still serves the address.
        _ = await fixture.server.greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("127.0.0.44"))
        #expect(fixture.server.greylist.shouldAccept(ip: .literal("127.0.0.44")))
        let socket = fixture.adminSocket
        let again = try await Blocking.run { try GreylistAdminClient.send(GreylistAdminRequest(command: "soft-trust", network: "127.0.0.0/24"), to: socket) }
        #expect(again.ok && again.changed == false)
        #expect(GreylistAdminClient.format(again, command: "soft-trust").hasPrefix("already in the soft-trust list"))
        let bad = try await Blocking.run { try GreylistAdminClient.send(GreylistAdminRequest(command: "soft-trust", network: "127.0.0.300/24"), to: socket) }
        #expect(!bad.ok && bad.error?.contains("127.0.0.300/24") == true, "\(bad)")
        let configured = try await Blocking.run { try GreylistAdminClient.send(GreylistAdminRequest(command: "soft-untrust", network: "198.51.100.0/24"), to: socket) }
        #expect(configured.changed == false, "the configuration's entries change only with the configuration")
        let removed = try await Blocking.run { try GreylistAdminClient.send(GreylistAdminRequest(command: "soft-untrust", network: "127.0.0.0/24"), to: socket) }
        #expect(removed.ok && removed.changed == true && removed.softTrustAdded == [])
        #expect(!fixture.server.greylist.shouldAccept(ip: .literal("127.0.0.44")), "taken out: the ban is hard again")
        await fixture.stop()
    }
}
