import GreylistAdmin

/// The library's admin server as one of the demo's services: started after the purge loop,
/// stopped before it.
final class AdminService: ServerService {
    let name = "admin server"
    let server: GreylistAdminServer

    init(_ server: GreylistAdminServer) {
        self.server = server
    }

    func start() throws {
        try server.start()
    }

    func stop() async {
        await server.stop()
    }
}
