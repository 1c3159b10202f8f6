import Greylist

/// Purges expired bans and counters every `cleanupInterval` (the greylist's own ``Greylist/run()``).
final class PurgeLoop: ServerService {
    let name = "purge loop"
    private let greylist: Greylist
    private let task = LockedValue<Task<Void, Never>?>(nil)

    init(greylist: Greylist) {
        self.greylist = greylist
    }

    func start() {
        task.withLock { task in
            guard task == nil else { return }
            task = Task { [greylist] in await greylist.run() }
        }
    }

    func stop() async {
        guard let running = task.withLock({ $0 }) else { return }
        running.cancel()
        await running.value
    }
}
