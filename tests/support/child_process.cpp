#include "support/child_process.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <ostream>
#include <regex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sessionkit::test {

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

void close_fd(int& fd) noexcept
{
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

// Both ends close-on-exec, so no other child inherits them: a leaked write
// end would hide EOF from our reader for as long as that other child lives.
std::array<int, 2> make_pipe()
{
    std::array<int, 2> fds{-1, -1};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        throw_errno("pipe2");
    }
    return fds;
}

exit_status decode(int raw) noexcept
{
    exit_status s;
    if (WIFEXITED(raw)) {
        s.exited = true;
        s.code = WEXITSTATUS(raw);
    } else if (WIFSIGNALED(raw)) {
        s.signal = WTERMSIG(raw);
    }
    return s;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const exit_status& s)
{
    if (s.exited) {
        os << "exited with " << s.code;
    } else if (s.signal != 0) {
        os << "killed by signal " << s.signal;
    } else {
        os << "unknown status";
    }
    if (s.timed_out) {
        os << " (after timeout)";
    }
    return os;
}

struct child_process::impl {
    std::string program;
    pid_t pid = -1;
    std::optional<exit_status> status;  // set once reaped

    int out_fd = -1;
    int err_fd = -1;

    // Shared with the reader thread.
    mutable std::mutex mutex;
    std::condition_variable changed;
    std::string out;
    std::string err;
    bool out_eof = false;
    bool err_eof = false;
    std::atomic<bool> stop{false};
    std::thread reader;

    void read_loop()
    {
        std::array<pollfd, 2> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}}};
        std::array<char, 4096> buf{};
        while (!stop.load()) {
            if (fds[0].fd < 0 && fds[1].fd < 0) {
                return;
            }
            // Short timeout so the destructor's stop request is noticed even
            // if a grandchild keeps a pipe open.
            const int n = ::poll(fds.data(), fds.size(), 100);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break;
            }
            for (std::size_t i = 0; i < fds.size(); ++i) {
                if (fds[i].fd < 0 || fds[i].revents == 0) {
                    continue;
                }
                const ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
                if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
                    continue;
                }
                std::lock_guard lock(mutex);
                if (got > 0) {
                    (i == 0 ? out : err).append(buf.data(), static_cast<std::size_t>(got));
                } else {
                    (i == 0 ? out_eof : err_eof) = true;
                    fds[i].fd = -1;
                }
                changed.notify_all();
            }
        }
        std::lock_guard lock(mutex);
        out_eof = err_eof = true;
        changed.notify_all();
    }

    // Returns true once the child is reaped.
    bool reap(bool block)
    {
        if (status) {
            return true;
        }
        int raw = 0;
        pid_t r = 0;
        do {
            r = ::waitpid(pid, &raw, block ? 0 : WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == pid) {
            status = decode(raw);
            return true;
        }
        if (r < 0) {
            // ECHILD: someone else reaped it; nothing left to wait for.
            status = exit_status{};
            return true;
        }
        return false;
    }

    // After exit the pipes deliver their last bytes and EOF; give the
    // reader a moment so the captured text is complete.
    void drain(std::chrono::milliseconds timeout)
    {
        std::unique_lock lock(mutex);
        changed.wait_for(lock, timeout, [&] { return out_eof && err_eof; });
    }

    exit_status wait_for_exit(std::chrono::milliseconds timeout)
    {
        const auto deadline = clock_type::now() + timeout;
        while (!reap(false)) {
            if (clock_type::now() >= deadline) {
                ::kill(pid, SIGKILL);
                reap(true);
                status->timed_out = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        drain(std::chrono::seconds(2));
        return *status;
    }
};

child_process::child_process(std::string program, std::vector<std::string> args)
    : impl_(std::make_unique<impl>())
{
    impl_->program = std::move(program);

    // Everything the child needs is prepared before fork(): between fork
    // and exec only async-signal-safe calls are allowed.
    std::vector<std::string> storage;
    storage.reserve(args.size() + 1);
    storage.push_back(impl_->program);
    for (auto& a : args) {
        storage.push_back(std::move(a));
    }
    std::vector<char*> argv;
    argv.reserve(storage.size() + 1);
    for (auto& s : storage) {
        argv.push_back(s.data());
    }
    argv.push_back(nullptr);

    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);

    std::array<int, 2> out_pipe{-1, -1};
    std::array<int, 2> err_pipe{-1, -1};
    std::array<int, 2> exec_pipe{-1, -1};  // carries errno if exec fails
    auto close_pipes = [&]() noexcept {
        for (auto* p : {&out_pipe, &err_pipe, &exec_pipe}) {
            close_fd((*p)[0]);
            close_fd((*p)[1]);
        }
    };
    try {
        out_pipe = make_pipe();
        err_pipe = make_pipe();
        exec_pipe = make_pipe();
    } catch (...) {
        close_pipes();
        throw;
    }
    const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid == 0) {
        // Die with the test process instead of lingering as an orphan.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) {
            ::_exit(127);
        }
        // The test runner may have blocked or ignored signals; the server
        // must see SIGTERM/SIGINT as a normal process would.
        ::sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
        for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD}) {
            ::sigaction(sig, &default_action, nullptr);
        }
        // dup2 clears close-on-exec on the new descriptors only.
        if ((dev_null >= 0 && ::dup2(dev_null, STDIN_FILENO) < 0) ||
            ::dup2(out_pipe[1], STDOUT_FILENO) < 0 ||
            ::dup2(err_pipe[1], STDERR_FILENO) < 0) {
            const int e = errno;
            (void)!::write(exec_pipe[1], &e, sizeof e);
            ::_exit(127);
        }
        ::execv(argv[0], argv.data());
        const int e = errno;
        (void)!::write(exec_pipe[1], &e, sizeof e);
        ::_exit(127);
    }

    const int fork_errno = errno;
    int dn = dev_null;
    close_fd(dn);
    close_fd(out_pipe[1]);
    close_fd(err_pipe[1]);
    close_fd(exec_pipe[1]);

    if (pid < 0) {
        close_pipes();
        throw std::system_error(fork_errno, std::generic_category(), "fork");
    }
    impl_->pid = pid;

    // EOF here means exec succeeded (close-on-exec closed the write end).
    int exec_errno = 0;
    ssize_t got = 0;
    do {
        got = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno);
    } while (got < 0 && errno == EINTR);
    close_fd(exec_pipe[0]);
    if (got == static_cast<ssize_t>(sizeof exec_errno)) {
        impl_->reap(true);
        close_fd(out_pipe[0]);
        close_fd(err_pipe[0]);
        throw std::system_error(exec_errno, std::generic_category(),
                                "cannot execute " + impl_->program);
    }

    impl_->out_fd = out_pipe[0];
    impl_->err_fd = err_pipe[0];
    try {
        impl_->reader = std::thread([p = impl_.get()] { p->read_loop(); });
    } catch (...) {
        // The destructor will not run: do its work here.
        ::kill(pid, SIGKILL);
        impl_->reap(true);
        close_fd(impl_->out_fd);
        close_fd(impl_->err_fd);
        throw;
    }
}

child_process::~child_process()
{
    if (!impl_) {
        return;
    }
    if (impl_->pid > 0 && !impl_->status) {
        ::kill(impl_->pid, SIGKILL);
        impl_->reap(true);
    }
    impl_->stop = true;
    if (impl_->reader.joinable()) {
        impl_->reader.join();
    }
    close_fd(impl_->out_fd);
    close_fd(impl_->err_fd);
}

pid_t child_process::pid() const noexcept
{
    return impl_->pid;
}

listen_address child_process::wait_for_listening(std::chrono::milliseconds timeout)
{
    static const std::regex announcement(
        R"(listening on http://(\[[^\]]*\]|[^\s/:\[\]]+):([0-9]{1,5})(?:/|\s|$))");
    const auto deadline = clock_type::now() + timeout;

    std::unique_lock lock(impl_->mutex);
    std::size_t line_start = 0;
    for (;;) {
        // Only complete lines count: a port cut off by a partial write
        // ("...:30" of "...:3000") must not be mistaken for the real one.
        for (auto nl = impl_->out.find('\n', line_start); nl != std::string::npos;
             nl = impl_->out.find('\n', line_start)) {
            std::string line = impl_->out.substr(line_start, nl - line_start);
            line_start = nl + 1;
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            std::smatch m;
            if (!std::regex_search(line, m, announcement)) {
                continue;
            }
            const std::string digits = m[2].str();
            unsigned port = 0;
            const auto [ptr, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), port);
            if (ec != std::errc{} || ptr != digits.data() + digits.size() || port == 0 ||
                port > 65535) {
                throw std::runtime_error("bad port in announcement: " + line);
            }
            return listen_address{m[1].str(), static_cast<std::uint16_t>(port), line};
        }
        if (impl_->out_eof) {
            throw std::runtime_error(impl_->program +
                                     " closed stdout before announcing its port\nstdout:\n" +
                                     impl_->out + "\nstderr:\n" + impl_->err);
        }
        if (impl_->changed.wait_until(lock, deadline) == std::cv_status::timeout &&
            impl_->out.find('\n', line_start) == std::string::npos) {
            throw std::runtime_error("timed out waiting for " + impl_->program +
                                     " to announce its port\nstdout:\n" + impl_->out +
                                     "\nstderr:\n" + impl_->err);
        }
    }
}

exit_status child_process::wait(std::chrono::milliseconds timeout)
{
    return impl_->wait_for_exit(timeout);
}

void child_process::send_signal(int sig)
{
    // Never signal a reaped pid: the number may already belong to another process.
    if (!impl_->reap(false)) {
        ::kill(impl_->pid, sig);
    }
}

exit_status child_process::terminate(std::chrono::milliseconds timeout)
{
    send_signal(SIGTERM);
    return impl_->wait_for_exit(timeout);
}

exit_status child_process::kill()
{
    if (!impl_->reap(false)) {
        ::kill(impl_->pid, SIGKILL);
        impl_->reap(true);
    }
    impl_->drain(std::chrono::seconds(2));
    return *impl_->status;
}

bool child_process::running()
{
    return !impl_->reap(false);
}

std::string child_process::stdout_text() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->out;
}

std::string child_process::stderr_text() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->err;
}

bool child_process::wait_for_stderr(const std::string& needle, std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] {
        return impl_->err.find(needle) != std::string::npos || impl_->err_eof;
    }) && impl_->err.find(needle) != std::string::npos;
}

}  // namespace sessionkit::test
