// FileLock: flock with a timeout and a way out (see lock.hpp).
#include "store/lock.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <sys/file.h>
#include <thread>

#include "common/error.hpp"
#include "common/observer.hpp"

namespace wb {

FileLock::FileLock(const Dir& dir, const char* name, int64_t timeout_ms, Observer* observer,
                   const std::string& busy_message) {
    const int raw = ::openat(dir.fd(), name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (raw < 0) {
        const int err = errno;
        const std::string what = "cannot open the lock file '" + dir.path_of(name) + "'";
        if (err == EACCES || err == EPERM) throw dir.access_denied(name, what, err);
        throw system_error(what, err);
    }
    fd_ = Fd(raw);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        if (::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0) return;
        if (errno != EWOULDBLOCK && errno != EINTR)
            throw system_error(std::string("cannot lock '") + name + "'", errno);
        if (observer) observer->check();
        if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline)
            throw Error(busy_message, ErrorKind::busy);
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
}

FileLock lock_backup_dir(const Dir& dir, int64_t timeout_ms, Observer* observer) {
    return FileLock(dir, kBackupLockName, timeout_ms, observer,
                    "another backup, cleanup or restore is running on this backup directory; try again when "
                    "it has finished (or raise busy_timeout_ms)");
}

} // namespace wb
